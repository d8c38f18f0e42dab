package xds

import (
	"encoding/json"
	"fmt"
	"net"
)

// BootstrapConfig describes a client of dubbomesh's xDS server.
type BootstrapConfig struct {
	XDSAddress string // dubbomesh's xDS address, host:port
	NodeID     string
	Cluster    string // Envoy's service cluster; default "dubbomesh-sidecar"
	// Metadata is Envoy's node metadata; default {GENERATOR: envoy}, which
	// makes dubbomesh send the socket listener. Another control plane may
	// want its own, e.g. istiod's NAMESPACE and INTERCEPTION_MODE.
	Metadata map[string]any
	// AdminAddress of Envoy's admin interface (host:port); empty = none.
	AdminAddress string
	// Delta makes Envoy use incremental (Delta) xDS instead of
	// State-of-the-World.
	Delta bool
	// CAFile turns on TLS to the xDS server: the CA bundle (PEM) its
	// certificate must chain to. The certificate must also name the host
	// of XDSAddress (an IP SAN for an IP, a DNS SAN for a name).
	CAFile string
	// CertFile and KeyFile are the client's certificate and key (PEM) for
	// a server that requires mutual TLS; both or neither, and only with
	// CAFile.
	CertFile string
	KeyFile  string
}

func (c BootstrapConfig) validate() error {
	if _, _, err := net.SplitHostPort(c.XDSAddress); err != nil {
		return fmt.Errorf("xds: bootstrap: xDS address %q: %w", c.XDSAddress, err)
	}
	if c.NodeID == "" {
		return fmt.Errorf("xds: bootstrap: node id is empty")
	}
	if c.AdminAddress != "" {
		if _, _, err := splitHostPort(c.AdminAddress); err != nil {
			return fmt.Errorf("xds: bootstrap: admin address %q: %w", c.AdminAddress, err)
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return fmt.Errorf("xds: bootstrap: a client certificate needs both its certificate file and its key file")
	}
	if c.CertFile != "" && c.CAFile == "" {
		return fmt.Errorf("xds: bootstrap: a client certificate needs TLS: set the CA file too")
	}
	return nil
}

// channelCreds are grpc-go's bootstrap channel credentials.
func (c BootstrapConfig) channelCreds() []any {
	if c.CAFile == "" {
		return []any{map[string]any{"type": "insecure"}}
	}
	cfg := map[string]any{"ca_certificate_file": c.CAFile}
	if c.CertFile != "" {
		cfg["certificate_file"] = c.CertFile
		cfg["private_key_file"] = c.KeyFile
	}
	return []any{map[string]any{"type": "tls", "config": cfg}}
}

// envoyTransportSocket is the TLS transport socket of Envoy's cluster to
// the xDS server, or nil for plain text. It verifies the chain and that the
// certificate names host.
func (c BootstrapConfig) envoyTransportSocket(host string) map[string]any {
	if c.CAFile == "" {
		return nil
	}
	sanType := "DNS"
	if net.ParseIP(host) != nil {
		sanType = "IP_ADDRESS"
	}
	common := map[string]any{
		"alpn_protocols": []string{"h2"},
		"validation_context": map[string]any{
			"trusted_ca": map[string]any{"filename": c.CAFile},
			"match_typed_subject_alt_names": []any{map[string]any{
				"san_type": sanType,
				"matcher":  map[string]any{"exact": host},
			}},
		},
	}
	if c.CertFile != "" {
		common["tls_certificates"] = []any{map[string]any{
			"certificate_chain": map[string]any{"filename": c.CertFile},
			"private_key":       map[string]any{"filename": c.KeyFile},
		}}
	}
	tlsCtx := map[string]any{
		"@type":              "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
		"common_tls_context": common,
	}
	if sanType == "DNS" {
		tlsCtx["sni"] = host
	}
	return map[string]any{"name": "envoy.transport_sockets.tls", "typed_config": tlsCtx}
}

// GRPCBootstrap returns the JSON bootstrap grpc-go's xds resolver reads
// (GRPC_XDS_BOOTSTRAP_CONFIG, or a file named by GRPC_XDS_BOOTSTRAP).
func GRPCBootstrap(c BootstrapConfig) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return json.MarshalIndent(map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      c.XDSAddress,
			"channel_creds":   c.channelCreds(),
			"server_features": []string{"xds_v3"},
		}},
		"node": map[string]any{
			"id":       c.NodeID,
			"metadata": map[string]any{"GENERATOR": "grpc"},
		},
	}, "", "  ")
}

// EnvoyBootstrap returns a YAML bootstrap that makes Envoy a dubbomesh
// sidecar: everything from dubbomesh over ADS, one static cluster to reach
// it. JSON is valid YAML; Envoy reads either.
func EnvoyBootstrap(c BootstrapConfig) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	xdsHost, xdsPort, err := net.SplitHostPort(c.XDSAddress)
	if err != nil {
		return nil, err
	}
	cluster := c.Cluster
	if cluster == "" {
		cluster = "dubbomesh-sidecar"
	}
	metadata := c.Metadata
	if metadata == nil {
		metadata = map[string]any{"GENERATOR": "envoy"}
	}
	ads := map[string]any{"ads": map[string]any{}, "resource_api_version": "V3"}
	apiType := "GRPC"
	if c.Delta {
		apiType = "DELTA_GRPC"
	}
	xdsCluster := map[string]any{
		"name":            "dubbomesh_xds",
		"type":            "STRICT_DNS",
		"connect_timeout": "1s",
		"typed_extension_protocol_options": map[string]any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": map[string]any{
				"@type":                "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
				"explicit_http_config": map[string]any{"http2_protocol_options": map[string]any{}},
			},
		},
		"load_assignment": map[string]any{
			"cluster_name": "dubbomesh_xds",
			"endpoints": []any{map[string]any{"lb_endpoints": []any{map[string]any{
				"endpoint": map[string]any{"address": socketAddressYAML(xdsHost, xdsPort)},
			}}}},
		},
	}
	if ts := c.envoyTransportSocket(xdsHost); ts != nil {
		xdsCluster["transport_socket"] = ts
	}
	doc := map[string]any{
		"node": map[string]any{
			"id":       c.NodeID,
			"cluster":  cluster,
			"metadata": metadata,
		},
		"dynamic_resources": map[string]any{
			"ads_config": map[string]any{
				"api_type":              apiType,
				"transport_api_version": "V3",
				"grpc_services":         []any{map[string]any{"envoy_grpc": map[string]any{"cluster_name": "dubbomesh_xds"}}},
			},
			"lds_config": ads,
			"cds_config": ads,
		},
		"static_resources": map[string]any{"clusters": []any{xdsCluster}},
	}
	if c.AdminAddress != "" {
		h, p, _ := net.SplitHostPort(c.AdminAddress)
		doc["admin"] = map[string]any{"address": socketAddressYAML(h, p)}
	}
	return json.MarshalIndent(doc, "", "  ")
}

func socketAddressYAML(host, port string) map[string]any {
	return map[string]any{"socket_address": map[string]any{"address": host, "port_value": json.Number(port)}}
}
