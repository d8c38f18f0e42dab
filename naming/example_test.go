package naming_test

import (
	"fmt"
	"maps"
	"slices"

	"github.com/dubbomesh/dubbomesh/naming"
)

func ExampleHosts_Interface() {
	var hosts naming.Hosts // the default templates
	fmt.Println(hosts.Interface("org.apache.dubbo.samples.GreeterService"))
	fmt.Println(hosts.Application("Greeter-App"))
	custom := naming.Hosts{InterfaceTemplate: "{interface}.svc.mesh"}
	fmt.Println(custom.Interface("org.Foo$Bar"))
	// Output:
	// org.apache.dubbo.samples.greeterservice.dubbo
	// greeter-app.dubbo
	// org.foo-bar.svc.mesh
}

func ExampleLabeler_Labels() {
	l := naming.Labeler{FromParams: map[string]string{"env": "env"}, Static: map[string]string{"mesh": "dubbo"}}
	labels := l.Labels(naming.Workload{
		Application: "greeter",
		Version:     "1.0.0",
		Protocol:    "tri",
		Registries:  []string{"zk"},
		Params:      map[string]string{"env": "prod", "timestamp": "1700000000"},
	})
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Printf("%s=%s\n", k, labels[k])
	}
	// Output:
	// app=greeter
	// dubbo.apache.org/protocol=tri
	// dubbo.apache.org/registry=zk
	// env=prod
	// mesh=dubbo
	// version=1.0.0
}
