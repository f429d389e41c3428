// Command sleep is a test function that sleeps for the duration in its payload (default 1h),
// to run past its timeout.
package main

import (
	"context"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
)

func handle(_ context.Context, payload []byte) (string, error) {
	d, err := time.ParseDuration(string(payload))
	if err != nil {
		d = time.Hour
	}
	time.Sleep(d) // deliberately ignores the context: a stuck function is what fchost must handle
	return "slept " + d.String(), nil
}

func main() { fc.Start(handle) }
