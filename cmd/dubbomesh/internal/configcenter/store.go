package configcenter

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
)

// Errors; test with errors.Is.
var (
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("configcenter: not found")
	// ErrConflict: the key changed since it was read; read it again.
	ErrConflict = errors.New("configcenter: changed since it was read")
)

// Value is a key's content and the version it was read at.
type Value struct {
	Data []byte
	// Version is opaque: the ZooKeeper node version, or the MD5 of a Nacos
	// config's content.
	Version string
}

// Store is one config center. Its methods may be called concurrently.
type Store interface {
	// Get reads key in group; ErrNotFound when it does not exist.
	Get(ctx context.Context, group, key string) (Value, error)
	// Put writes data to key in group if the key is still at version
	// (version "" means the key must not exist yet), and returns the new
	// version; ErrConflict otherwise.
	Put(ctx context.Context, group, key string, data []byte, version string) (string, error)
	// Where names key in group for messages, e.g. the ZooKeeper path.
	Where(group, key string) string
	// Close releases the connection.
	Close() error
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b) //nolint:gosec // Nacos' own content checksum, not security
	return hex.EncodeToString(sum[:])
}
