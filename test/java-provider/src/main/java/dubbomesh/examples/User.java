package dubbomesh.examples;

import java.io.Serializable;

/**
 * The hessian2 POJO of UserService, the same class dubbomesh's dubbo-go
 * example declares (examples/provider/user.go). dubbo-go-hessian2 names a
 * Go field by lower-casing its first letter, so Go's ID, Name and Age are
 * iD, name and age on the wire.
 */
public class User implements Serializable {
    private static final long serialVersionUID = 1L;

    public String iD;
    public String name;
    public int age;

    public User() {}

    public User(String iD, String name, int age) {
        this.iD = iD;
        this.name = name;
        this.age = age;
    }
}
