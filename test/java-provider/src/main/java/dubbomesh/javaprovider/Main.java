package dubbomesh.javaprovider;

import dubbomesh.examples.UserService;
import dubbomesh.examples.greeter.Greeter;
import java.util.concurrent.CountDownLatch;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.MetadataReportConfig;
import org.apache.dubbo.config.ProtocolConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.ServiceConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;

/**
 * An Apache Dubbo Java provider for dubbomesh's tests: plain DubboBootstrap,
 * Triple, serving dubbomesh.examples.greeter.Greeter (protobuf) and the
 * IDL-less (hessian2) dubbomesh.examples.UserService. Prints
 * "java provider ready port=N" once exported and registered, then runs
 * until killed (SIGTERM unregisters through Dubbo's shutdown hook).
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        Options o = Options.parse(args);

        ApplicationConfig app = new ApplicationConfig(o.app);
        app.setQosEnable(false); // QoS would listen on every interface
        app.setMetadataType(o.metadataType);
        app.setRegisterMode(o.registerMode);
        app.setLogger("slf4j");
        if (o.metadataPort != 0) {
            app.setMetadataServicePort(o.metadataPort);
        }

        RegistryConfig registry = new RegistryConfig(o.registry);
        registry.setRegisterMode(o.registerMode);

        ProtocolConfig tri = new ProtocolConfig("tri", o.port);
        tri.setSerialization("hessian2");

        DubboBootstrap b = DubboBootstrap.getInstance()
                .application(app)
                .registry(registry)
                .protocol(tri);
        if (o.metadataType.equals("remote")) {
            b.metadataReport(new MetadataReportConfig(o.registry));
        }
        b.service(service(Greeter.class, new Services.GreeterImpl(o), o));
        b.service(service(UserService.class, new Services.UserServiceImpl(o), o));
        b.start();
        System.out.println("java provider ready port=" + o.port);
        System.out.flush();
        new CountDownLatch(1).await();
    }

    private static <T> ServiceConfig<T> service(Class<T> iface, T impl, Options o) {
        ServiceConfig<T> s = new ServiceConfig<>();
        s.setInterface(iface);
        s.setRef(impl);
        s.setVersion(o.version);
        if (!o.group.isEmpty()) {
            s.setGroup(o.group);
        }
        return s;
    }
}
