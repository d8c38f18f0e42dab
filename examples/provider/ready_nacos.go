package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// nacosDefaultGroup is the Nacos group dubbo-go registers in unless told
// otherwise (both the application instance and the interface services).
const nacosDefaultGroup = "DEFAULT_GROUP"

// waitNacos blocks until every service the registration mode writes lists
// this instance in Nacos, read through the Nacos open API (GET
// /nacos/v1/ns/instance/list), which Nacos 2.x and rnacos serve on the
// registry's HTTP port.
func waitNacos(ctx context.Context, cfg Config, regURL *url.URL) error {
	host := strings.Split(regURL.Host, ",")[0]
	var services []string
	if cfg.Register == RegisterApplication || cfg.Register == RegisterAll {
		services = append(services, cfg.App)
	}
	if cfg.Register == RegisterInterface || cfg.Register == RegisterAll {
		for _, iface := range []string{GreeterInterface, EchoInterface} {
			// providers:{interface}:{version}:{group}
			services = append(services, "providers:"+iface+":"+cfg.Version+":"+cfg.Group)
		}
	}
	for _, svc := range services {
		if err := retry(ctx, func() error { return nacosHasInstance(ctx, host, svc, cfg.Port) }); err != nil {
			return err
		}
	}
	return nil
}

func nacosHasInstance(ctx context.Context, host, service string, port int) error {
	q := url.Values{"serviceName": {service}, "groupName": {nacosDefaultGroup}, "healthyOnly": {"false"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/nacos/v1/ns/instance/list?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("nacos %s: %w", service, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("nacos %s: %w", service, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("nacos %s: %s", service, resp.Status)
	}
	var list struct {
		Hosts []struct {
			Port int `json:"port"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("nacos %s: %w", service, err)
	}
	for _, h := range list.Hosts {
		if h.Port == port {
			return nil
		}
	}
	return fmt.Errorf("nacos %s: this instance is not registered yet", service)
}
