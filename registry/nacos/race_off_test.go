//go:build !race

package nacos

// raceEnabled: see race_on_test.go.
const raceEnabled = false
