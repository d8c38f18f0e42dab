package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/configcenter"
	"github.com/dubbomesh/dubbomesh/router"
)

// routingFlags name the routing document: the adapter's configCenter
// settings and variables.
type routingFlags struct {
	url, group, key, by string
}

func routingCmd() *cobra.Command {
	var f routingFlags
	cmd := &cobra.Command{
		Use:   "routing",
		Short: "Read and change the apps' routing document in the config center",
		Long: `Read and change the routing document the apps' adapter watches (legacy /
dual / mesh per service), in ZooKeeper (node /dubbo/config/{group}/{key}) or
Nacos (dataId {key}, group {group}). Every change is validated first (an
invalid document is refused, naming the bad key, and nothing is written), is
a compare-and-set on the version read, and is recorded in a short history
({key}.history) that rollback restores from.`,
	}
	p := cmd.PersistentFlags()
	p.StringVar(&f.url, "config-center", os.Getenv("DUBBOMESH_CONFIG_CENTER"), "config center URL, e.g. zookeeper://127.0.0.1:2181 or nacos://127.0.0.1:8848?namespace=prod (env DUBBOMESH_CONFIG_CENTER)")
	p.StringVar(&f.group, "group", envOr("DUBBOMESH_ROUTING_GROUP", configcenter.DefaultGroup), "config-center group (env DUBBOMESH_ROUTING_GROUP)")
	p.StringVar(&f.key, "key", envOr("DUBBOMESH_ROUTING_KEY", configcenter.DefaultKey), "config-center key (env DUBBOMESH_ROUTING_KEY)")
	p.StringVar(&f.by, "by", defaultBy(), "who makes the change, recorded in the history")
	cmd.AddCommand(routingGetCmd(&f), routingSetCmd(&f), routingDiffCmd(&f), routingHistoryCmd(&f), routingRollbackCmd(&f))
	return cmd
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func defaultBy() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}

// open connects to the config center and runs fn on the document.
func (f *routingFlags) open(ctx context.Context, fn func(*configcenter.Routing) error) error {
	if f.url == "" {
		return errors.New("routing: no config center: give --config-center or DUBBOMESH_CONFIG_CENTER")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := configcenter.Open(ctx, f.url, log)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(configcenter.NewRouting(store, f.group, f.key, configcenter.WithLogger(log)))
}

func routingGetCmd(f *routingFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get",
		Short: "Print the routing document (its version goes to stderr)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.open(cmd.Context(), func(r *configcenter.Routing) error {
				d, err := r.Get(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "# %s version %s\n", r.Where(), d.Version)
				if d.Invalid != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "# INVALID, the apps ignore it: %s\n", d.Invalid)
				}
				_, err = io.WriteString(cmd.OutOrStdout(), d.Text)
				return err
			})
		},
	}
}

// readDoc reads FILE, or stdin for "-".
func readDoc(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	return os.ReadFile(name)
}

func routingSetCmd(f *routingFlags) *cobra.Command {
	var ifVersion string
	cmd := &cobra.Command{
		Use:   "set FILE|-",
		Short: "Validate a routing document and write it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := readDoc(cmd, args[0])
			if err != nil {
				return err
			}
			return f.open(cmd.Context(), func(r *configcenter.Routing) error {
				e, err := r.Set(cmd.Context(), text, configcenter.Change{By: f.by, IfVersion: ifVersion})
				if err != nil {
					return err
				}
				printChange(cmd.OutOrStdout(), r, e)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&ifVersion, "if-version", "", "write only if the document is still at this version (as `get` printed)")
	return cmd
}

func printChange(w io.Writer, r *configcenter.Routing, e configcenter.Entry) {
	if e.ID == 0 {
		fmt.Fprintf(w, "%s: unchanged\n", r.Where())
		return
	}
	fmt.Fprintf(w, "%s: change %d (%s by %s)\n", r.Where(), e.ID, e.Action, e.By)
	for _, s := range e.Summary {
		fmt.Fprintf(w, "  %s\n", s)
	}
}

func routingDiffCmd(f *routingFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "diff FILE|-",
		Short: "Show what writing FILE would change (validated, nothing written)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := readDoc(cmd, args[0])
			if err != nil {
				return err
			}
			return f.open(cmd.Context(), func(r *configcenter.Routing) error {
				cur, err := r.Get(cmd.Context())
				if err != nil && !errors.Is(err, configcenter.ErrNotFound) {
					return err
				}
				cfg, err := parseRoutingDoc(text)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				d := configcenter.Diff(cur.Text, string(text))
				if d == "" {
					fmt.Fprintln(w, "no difference")
					return nil
				}
				fmt.Fprint(w, d)
				for _, s := range configcenter.Changes(cur.Config, cfg) {
					fmt.Fprintf(w, "# %s\n", s)
				}
				return nil
			})
		},
	}
}

func routingHistoryCmd(f *routingFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the recorded changes, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.open(cmd.Context(), func(r *configcenter.Routing) error {
				h, err := r.History(cmd.Context())
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				switch output {
				case "json":
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					return enc.Encode(h)
				case "table":
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tAT\tBY\tACTION\tCHANGES")
					for _, e := range h {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.ID, e.At.Format(time.RFC3339), e.By, e.Action, strings.Join(e.Summary, "; "))
					}
					return tw.Flush()
				default:
					return fmt.Errorf("-o %q: want table or json", output)
				}
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func routingRollbackCmd(f *routingFlags) *cobra.Command {
	var to int
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Restore the document the last change replaced (or, with --to, the one change N wrote)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.open(cmd.Context(), func(r *configcenter.Routing) error {
				e, err := r.Rollback(cmd.Context(), to, configcenter.Change{By: f.by})
				if err != nil {
					return err
				}
				printChange(cmd.OutOrStdout(), r, e)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&to, "to", 0, "restore the document change N wrote (see history)")
	return cmd
}

func parseRoutingDoc(text []byte) (router.Config, error) {
	return router.ParseConfig(bytes.NewReader(text))
}
