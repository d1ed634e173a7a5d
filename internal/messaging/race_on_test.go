//go:build race

package messaging_test

// raceEnabled: the race detector allows 8,128 live goroutines, which a
// storm of 1,000 consumers (and the proxy and service behind them) exceeds.
const raceEnabled = true
