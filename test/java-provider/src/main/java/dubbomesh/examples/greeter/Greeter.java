package dubbomesh.examples.greeter;

import com.google.protobuf.StringValue;

/**
 * dubbomesh.examples.greeter.Greeter of examples/provider/greeter.proto,
 * without generated code: Dubbo's Triple serves a method whose argument and
 * result are protobuf messages as plain gRPC (application/grpc+proto), so
 * grpc-go, Envoy and dubbo-go clients call it as they call the Go provider.
 */
public interface Greeter {
    StringValue Greet(StringValue request);
}
