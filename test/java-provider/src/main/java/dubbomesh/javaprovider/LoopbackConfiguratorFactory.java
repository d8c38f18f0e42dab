package dubbomesh.javaprovider;

import org.apache.dubbo.common.URL;
import org.apache.dubbo.rpc.cluster.Configurator;
import org.apache.dubbo.rpc.cluster.ConfiguratorFactory;

/**
 * Rewrites the host of every exported URL to 127.0.0.1. Dubbo refuses a
 * 127.x bind or registry address (NetUtils.isInvalidLocalHost), so the
 * provider binds ::ffff:127.0.0.1 (DUBBO_IP_TO_BIND) and this factory, which
 * ServiceConfig applies to each URL of a protocol it is registered for
 * (META-INF/dubbo/org.apache.dubbo.rpc.cluster.ConfiguratorFactory), makes
 * it register 127.0.0.1. The bind address stays in the bind.ip parameter.
 */
public class LoopbackConfiguratorFactory implements ConfiguratorFactory {
    static final String HOST = "127.0.0.1";

    @Override
    public Configurator getConfigurator(URL url) {
        return new Configurator() {
            @Override
            public URL getUrl() {
                return url;
            }

            @Override
            public URL configure(URL u) {
                return u.setHost(HOST);
            }
        };
    }
}
