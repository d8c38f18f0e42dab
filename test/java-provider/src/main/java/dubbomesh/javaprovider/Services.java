package dubbomesh.javaprovider;

import com.google.protobuf.StringValue;
import dubbomesh.examples.User;
import dubbomesh.examples.UserService;
import dubbomesh.examples.greeter.Greeter;

/** The services' implementations; replies name the instance that answered. */
final class Services {
    private Services() {}

    /** "from app@port vversion", plus " group=G" when the provider has one. */
    static String from(Options o) {
        String s = "from " + o.app + "@" + o.port + " v" + o.version;
        return o.group.isEmpty() ? s : s + " group=" + o.group;
    }

    static final class GreeterImpl implements Greeter {
        private final Options o;

        GreeterImpl(Options o) {
            this.o = o;
        }

        @Override
        public StringValue Greet(StringValue request) {
            return StringValue.of("hello " + request.getValue() + " " + from(o));
        }
    }

    static final class UserServiceImpl implements UserService {
        private final Options o;

        UserServiceImpl(Options o) {
            this.o = o;
        }

        @Override
        public User GetUser(User user, String greeting) {
            if (user == null || user.iD == null || user.iD.isEmpty()) {
                throw new IllegalArgumentException("user: empty id");
            }
            if (user.iD.equals("nobody")) {
                return null;
            }
            return new User(user.iD, greeting + " " + user.name + " " + from(o), user.age + 1);
        }

        @Override
        public String SayHello(String name) {
            return "hello " + name + " " + from(o);
        }
    }
}
