//go:build !race

package messaging_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
