package configcenter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/dubbomesh/dubbomesh/router"
)

// Defaults of the routing key: the adapter's.
const (
	DefaultGroup = "dubbomesh"
	DefaultKey   = "routing"
	// HistorySize is how many changes the history keeps by default.
	HistorySize = 20
	// historySuffix names the history key beside the document.
	historySuffix = ".history"
)

// ErrInvalid wraps router.ErrInvalidConfig for a document that was
// refused; nothing was written.
var ErrInvalid = errors.New("configcenter: document refused")

// Routing is the routing document under one key of a Store, with its
// history. Its methods may be called concurrently.
type Routing struct {
	store      Store
	group, key string
	size       int
	now        func() time.Time
	log        *slog.Logger
}

// Option configures a Routing.
type Option func(*Routing)

// WithClock sets the clock that stamps history entries.
func WithClock(now func() time.Time) Option { return func(r *Routing) { r.now = now } }

// WithLogger sets the logger every change is logged to (who, what, when).
func WithLogger(l *slog.Logger) Option { return func(r *Routing) { r.log = l } }

// WithHistorySize sets how many changes the history keeps (default
// HistorySize).
func WithHistorySize(n int) Option { return func(r *Routing) { r.size = max(n, 1) } }

// NewRouting returns the routing document of key in group ("" for the
// defaults) of store.
func NewRouting(store Store, group, key string, opts ...Option) *Routing {
	r := &Routing{store: store, group: cmpOr(group, DefaultGroup), key: cmpOr(key, DefaultKey),
		size: HistorySize, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(r)
	}
	r.log = r.log.With("component", "routing", "key", r.Where())
	return r
}

// Where names the document, e.g. /dubbo/config/dubbomesh/routing.
func (r *Routing) Where() string { return r.store.Where(r.group, r.key) }

// Document is the routing document as read.
type Document struct {
	Text    string        `json:"text"`
	Version string        `json:"version"`
	Config  router.Config `json:"config"`
	// Invalid is why the stored text does not parse (the apps keep their
	// routing in force then); Config is empty.
	Invalid string `json:"invalid,omitempty"`
}

// Get reads the document; ErrNotFound when there is none.
func (r *Routing) Get(ctx context.Context) (Document, error) {
	v, err := r.store.Get(ctx, r.group, r.key)
	if err != nil {
		return Document{}, err
	}
	d := Document{Text: string(v.Data), Version: v.Version}
	if c, err := router.ParseConfig(bytes.NewReader(v.Data)); err != nil {
		d.Invalid = err.Error()
	} else {
		d.Config = c
	}
	return d, nil
}

// Change says who changed the document, how (Action: "set" or
// "rollback"), and which version it must still be at (IfVersion; empty:
// whatever was read just before writing).
type Change struct {
	By, Action, IfVersion string
}

// Entry is one recorded change.
type Entry struct {
	ID      int       `json:"id"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Action  string    `json:"action"`
	Summary []string  `json:"summary"`
	// Document is what was written; Previous what it replaced ("" when
	// the key did not exist).
	Document string `json:"document"`
	Previous string `json:"previous"`
}

// Set validates text and writes it as the document, then records the
// change. An invalid text is refused (ErrInvalid, naming the bad key) and
// nothing is written; a document that changed since c.IfVersion (or
// meanwhile) gives ErrConflict. Writing the text already there is a no-op
// with no history entry.
func (r *Routing) Set(ctx context.Context, text []byte, c Change) (Entry, error) {
	cfg, err := router.ParseConfig(bytes.NewReader(text))
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	cur, err := r.store.Get(ctx, r.group, r.key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Entry{}, err
	}
	if c.IfVersion != "" && c.IfVersion != cur.Version {
		return Entry{}, fmt.Errorf("%w: %s is at version %s, not %s", ErrConflict, r.Where(), cmpOr(cur.Version, "(none)"), c.IfVersion)
	}
	if bytes.Equal(cur.Data, text) {
		return Entry{Document: string(text), Previous: string(cur.Data)}, nil
	}
	if _, err := r.store.Put(ctx, r.group, r.key, text, cur.Version); err != nil {
		return Entry{}, err
	}
	var old router.Config
	if prev, err := router.ParseConfig(bytes.NewReader(cur.Data)); err == nil {
		old = prev
	}
	e := Entry{
		At: r.now().UTC().Truncate(time.Second), By: cmpOr(c.By, "unknown"), Action: cmpOr(c.Action, "set"),
		Summary: Changes(old, cfg), Document: string(text), Previous: string(cur.Data),
	}
	if len(cur.Data) > 0 && old.Default.Mode == "" {
		e.Summary = append([]string{"replaced an invalid document"}, e.Summary...)
	}
	e, err = r.record(ctx, e)
	r.log.Info("routing changed", "by", e.By, "action", e.Action, "id", e.ID, "changes", e.Summary)
	if err != nil {
		return e, fmt.Errorf("configcenter: the document was written but its history was not: %w", err)
	}
	return e, nil
}

// record appends e to the history (compare-and-set, retried on a
// conflict) and returns it with its ID.
func (r *Routing) record(ctx context.Context, e Entry) (Entry, error) {
	for range 10 {
		hist, version, err := r.history(ctx)
		if err != nil {
			return e, err
		}
		e.ID = 1
		if len(hist) > 0 {
			e.ID = hist[len(hist)-1].ID + 1
		}
		hist = append(hist, e)
		if len(hist) > r.size {
			hist = hist[len(hist)-r.size:]
		}
		data, err := json.MarshalIndent(hist, "", "  ")
		if err != nil {
			return e, err
		}
		_, err = r.store.Put(ctx, r.group, r.key+historySuffix, data, version)
		if !errors.Is(err, ErrConflict) {
			return e, err
		}
	}
	return e, fmt.Errorf("%w: history kept changing", ErrConflict)
}

// History returns the recorded changes, oldest first.
func (r *Routing) History(ctx context.Context) ([]Entry, error) {
	h, _, err := r.history(ctx)
	return h, err
}

func (r *Routing) history(ctx context.Context) ([]Entry, string, error) {
	v, err := r.store.Get(ctx, r.group, r.key+historySuffix)
	if errors.Is(err, ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var h []Entry
	if len(bytes.TrimSpace(v.Data)) > 0 {
		if err := json.Unmarshal(v.Data, &h); err != nil {
			return nil, "", fmt.Errorf("configcenter: history %s is not a list of changes: %w", r.store.Where(r.group, r.key+historySuffix), err)
		}
	}
	return h, v.Version, nil
}

// Rollback restores a previous document: with to == 0 the one the last
// recorded change replaced (the document must still be what that change
// wrote), else the document change to wrote. It is a change like Set's,
// recorded with Action "rollback".
func (r *Routing) Rollback(ctx context.Context, to int, c Change) (Entry, error) {
	hist, err := r.History(ctx)
	if err != nil {
		return Entry{}, err
	}
	if len(hist) == 0 {
		return Entry{}, fmt.Errorf("configcenter: no recorded change of %s to roll back", r.Where())
	}
	var text string
	if to == 0 {
		last := hist[len(hist)-1]
		cur, err := r.store.Get(ctx, r.group, r.key)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Entry{}, err
		}
		if string(cur.Data) != last.Document {
			return Entry{}, fmt.Errorf("%w: %s was changed outside the history since change %d; pick a change with --to", ErrConflict, r.Where(), last.ID)
		}
		if last.Previous == "" {
			return Entry{}, fmt.Errorf("configcenter: change %d created %s; there is no previous document", last.ID, r.Where())
		}
		text, c.IfVersion = last.Previous, cmpOr(c.IfVersion, cur.Version)
	} else {
		for _, e := range hist {
			if e.ID == to {
				text = e.Document
			}
		}
		if text == "" {
			return Entry{}, fmt.Errorf("configcenter: no change %d in the history (it keeps the last %d)", to, r.size)
		}
	}
	c.Action = "rollback"
	if to == 0 {
		c.Action = "rollback " + strconv.Itoa(hist[len(hist)-1].ID)
	} else {
		c.Action = "rollback to " + strconv.Itoa(to)
	}
	return r.Set(ctx, []byte(text), c)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
