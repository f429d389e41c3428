//go:build !race

package actiontrail

const raceEnabled = false
