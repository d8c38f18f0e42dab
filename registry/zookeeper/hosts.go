package zookeeper

import (
	"errors"
	"math/rand/v2"
	"sync"

	"github.com/go-zookeeper/zk"
)

// hostList is the client's zk.HostProvider: it hands out the configured
// addresses as they are, so every dial resolves the name again. A server
// whose name does not resolve yet (a ZooKeeper pod not ready when
// dubbomesh starts) or whose address changes (a rescheduled pod) is found
// on a later attempt. go-zookeeper's default provider resolves the names
// once, when the client is created, and fails the creation if one does
// not resolve.
type hostList struct {
	mu         sync.Mutex
	servers    []string
	curr, last int
}

var _ zk.HostProvider = (*hostList)(nil)

// Init implements zk.HostProvider; servers have a port (the client adds
// 2181 where it is missing).
func (h *hostList) Init(servers []string) error {
	if len(servers) == 0 {
		return errors.New("zookeeper: no servers")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.servers = append([]string(nil), servers...)
	// Spread the clients of several replicas over the ensemble.
	rand.Shuffle(len(h.servers), func(i, j int) { h.servers[i], h.servers[j] = h.servers[j], h.servers[i] })
	h.curr, h.last = -1, -1
	return nil
}

// Len implements zk.HostProvider.
func (h *hostList) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.servers)
}

// Next implements zk.HostProvider: retryStart is true once every server
// has been tried since the last successful connection (the client then
// waits a second).
func (h *hostList) Next() (server string, retryStart bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.curr = (h.curr + 1) % len(h.servers)
	retryStart = h.curr == h.last
	if h.last == -1 {
		h.last = 0
	}
	return h.servers[h.curr], retryStart
}

// Connected implements zk.HostProvider.
func (h *hostList) Connected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = h.curr
}
