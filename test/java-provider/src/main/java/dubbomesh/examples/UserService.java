package dubbomesh.examples;

/**
 * The IDL-less (hessian2) service of dubbomesh's examples, path
 * /dubbomesh.examples.UserService/GetUser. The method name keeps Go's
 * capital letter so that dubbo-go consumers call it unchanged.
 */
public interface UserService {
    /**
     * Answers {ID, "greeting name from app@port vversion", age+1}; an empty
     * id is an error, the id "nobody" a null reply.
     */
    User GetUser(User user, String greeting);

    /** A plain method: "hello name from app@port vversion". */
    String SayHello(String name);
}
