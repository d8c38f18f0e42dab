package dubbomesh.javaprovider;

import java.util.LinkedHashMap;
import java.util.Map;

/** The provider's options: --name=value arguments, else -Djavaprovider.name. */
final class Options {
    final String registry;     // e.g. zookeeper://127.0.0.1:2181 or nacos://127.0.0.1:8848
    final String registerMode; // all, interface or instance
    final String metadataType; // local or remote
    final int port;            // Triple port
    final int metadataPort;    // MetadataService port (local metadata)
    final String app;
    final String version;
    final String group;

    private Options(Map<String, String> m) {
        registry = get(m, "registry", "");
        registerMode = get(m, "register-mode", "all");
        metadataType = get(m, "metadata-type", "local");
        port = Integer.parseInt(get(m, "port", "50051"));
        metadataPort = Integer.parseInt(get(m, "metadata-port", "0"));
        app = get(m, "app", "java-provider");
        version = get(m, "version", "1.0.0");
        group = get(m, "group", "");
        if (registry.isEmpty()) {
            throw new IllegalArgumentException("--registry is required");
        }
        if (!registerMode.equals("all") && !registerMode.equals("interface") && !registerMode.equals("instance")) {
            throw new IllegalArgumentException("--register-mode must be all, interface or instance, not " + registerMode);
        }
        if (!metadataType.equals("local") && !metadataType.equals("remote")) {
            throw new IllegalArgumentException("--metadata-type must be local or remote, not " + metadataType);
        }
    }

    private static String get(Map<String, String> m, String name, String def) {
        String v = m.get(name);
        if (v == null) {
            v = System.getProperty("javaprovider." + name);
        }
        return v == null ? def : v;
    }

    static Options parse(String[] args) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String a : args) {
            if (!a.startsWith("--") || !a.contains("=")) {
                throw new IllegalArgumentException("argument " + a + " is not --name=value");
            }
            int eq = a.indexOf('=');
            m.put(a.substring(2, eq), a.substring(eq + 1));
        }
        return new Options(m);
    }
}
