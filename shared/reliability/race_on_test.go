//go:build race

package reliability

// raceDetector reports whether the test binary was built with -race.
const raceDetector = true
