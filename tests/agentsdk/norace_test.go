//go:build !race

package agentsdk_test

// raceEnabled says the test runs with the race detector, so the command
// under test is built with it too.
const raceEnabled = false
