//go:build !race

package wscat_test

// raceEnabled says the test runs with the race detector, so the command
// under test is built with it too.
const raceEnabled = false
