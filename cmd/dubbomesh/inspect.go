package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/admin"
	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/console"
)

func inspectCmd() *cobra.Command {
	var adminURL, tokenFile, output string
	cmd := &cobra.Command{
		Use:   "inspect [SERVICE]",
		Short: "Show the services a running dubbomesh sees, or one service in detail",
		Long: `Show what a running dubbomesh sees, from its admin API (/debug/services):
every service with its mesh host, registries, endpoint counts, versions,
groups, tags, skipped endpoints and host conflicts, and its routing when the
console has a config center; or, for SERVICE, its endpoints with their labels
and provenance, why an endpoint was skipped, and the xDS and Istio resources
generated for it (-o yaml|json shows them in full).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			token := ""
			if tokenFile != "" {
				t, err := admin.ReadTokenFile(tokenFile)
				if err != nil {
					return err
				}
				token = t
			}
			path := "/debug/services"
			if len(args) == 1 {
				path += "/" + url.PathEscape(args[0])
			}
			body, err := adminGet(cmd.Context(), strings.TrimSuffix(adminURL, "/")+path, token)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch output {
			case "json":
				var v any
				if err := json.Unmarshal(body, &v); err != nil {
					return err
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			case "yaml":
				var v any
				if err := json.Unmarshal(body, &v); err != nil {
					return err
				}
				enc := yaml.NewEncoder(w)
				enc.SetIndent(2)
				return enc.Encode(v)
			case "table":
				if len(args) == 1 {
					var d console.Detail
					if err := json.Unmarshal(body, &d); err != nil {
						return err
					}
					return detailTable(w, d)
				}
				var o console.Overview
				if err := json.Unmarshal(body, &o); err != nil {
					return err
				}
				return overviewTable(w, o)
			default:
				return fmt.Errorf("-o %q: want table, yaml or json", output)
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&adminURL, "admin", "http://127.0.0.1:15080", "admin URL of the running dubbomesh")
	f.StringVar(&tokenFile, "token-file", "", "file holding the admin token (needed when the admin address is not loopback)")
	f.StringVarP(&output, "output", "o", "table", "table, yaml or json")
	return cmd
}

func adminGet(ctx context.Context, u, token string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(body))
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, fmt.Errorf("inspect: %s: %s", resp.Status, msg)
	}
	return body, nil
}

func dash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func overviewTable(w io.Writer, o console.Overview) error {
	if o.Routing != nil {
		fmt.Fprintf(w, "routing document %s", o.Routing.Where)
		if o.Routing.Default != nil {
			fmt.Fprintf(w, " default %s", o.Routing.Default.Describe)
		}
		if o.Routing.Error != "" {
			fmt.Fprintf(w, " (%s)", o.Routing.Error)
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tKIND\tHOST\tREGISTRIES\tENDPOINTS\tVERSIONS\tGROUPS\tTAGS\tROUTING\tPROBLEMS")
	for _, s := range o.Services {
		routing := "-"
		if s.Routing != nil {
			routing = s.Routing.Describe
			if !s.Routing.Override {
				routing += " (default)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, s.Host, dash(s.Registries),
			s.Endpoints.Published, s.Endpoints.Total, dash(s.Versions), dash(s.Groups), dash(s.Tags), routing, problems(s))
	}
	return tw.Flush()
}

func problems(s console.Service) string {
	var p []string
	if n := len(s.Skipped); n > 0 {
		p = append(p, fmt.Sprintf("%d skipped", n))
	}
	if s.Shadowed {
		p = append(p, "shadowed by "+strings.Join(s.Conflict, ","))
	} else if len(s.Conflict) > 0 {
		p = append(p, "host shared with "+strings.Join(s.Conflict, ","))
	}
	return dash(p)
}

func detailTable(w io.Writer, d console.Detail) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "service:    %s (%s)\nhost:       %s\nregistries: %s\nendpoints:  %d published, %d drained, %d skipped of %d\n",
		d.Name, d.Kind, d.Host, dash(d.Registries), d.Endpoints.Published, d.Endpoints.Drained, d.Endpoints.Skipped, d.Endpoints.Total)
	if d.IstioShard != nil {
		fmt.Fprintf(&b, "istio:      shard %d\n", *d.IstioShard)
	}
	if d.Routing != nil {
		fmt.Fprintf(&b, "routing:    %s", d.Routing.Describe)
		if !d.Routing.Override {
			fmt.Fprint(&b, " (default)")
		}
		fmt.Fprintln(&b)
	}
	if p := problems(d.Service); p != "-" {
		fmt.Fprintf(&b, "problems:   %s\n", p)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nENDPOINTS")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tPROTOCOL\tSTATUS\tWEIGHT\tREGISTRIES\tLABELS")
	for _, e := range d.EndpointList {
		labels := make([]string, 0, len(e.Labels))
		for _, k := range slices.Sorted(maps.Keys(e.Labels)) {
			labels = append(labels, k+"="+e.Labels[k])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.Address, e.Protocol, e.Status, e.Weight, dash(e.Registries), dash(labels))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nRESOURCES (-o yaml shows them)")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tNAME")
	for _, t := range slices.Sorted(maps.Keys(d.Resources)) {
		short := t[strings.LastIndexAny(t, "./")+1:]
		for _, n := range slices.Sorted(maps.Keys(d.Resources[t])) {
			fmt.Fprintf(tw, "%s\t%s\n", short, n)
		}
	}
	return tw.Flush()
}
