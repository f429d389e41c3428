// Command panic is a test function that panics (the runtime reports it and survives) or, asked
// to, exits the process (fchost must restart it).
package main

import (
	"context"
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
)

func handle(_ context.Context, payload []byte) (string, error) {
	switch string(payload) {
	case "exit":
		os.Stderr.WriteString("exiting on request\n")
		os.Exit(3)
	case "ok":
		return "alive", nil
	}
	panic("boom: " + string(payload))
}

func main() { fc.Start(handle) }
