// Command flaky is a test function that fails until the async retry count reaches failUntil,
// then answers with the retry count it succeeded on.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

type input struct {
	FailUntil int `json:"failUntil"`
}

type output struct {
	RetryCount int `json:"retryCount"`
}

func handle(ctx context.Context, in input) (output, error) {
	fcc, ok := fccontext.FromContext(ctx)
	if !ok {
		return output{}, errors.New("no FC context")
	}
	if fcc.RetryCount < in.FailUntil {
		return output{}, fmt.Errorf("attempt with retry count %d fails", fcc.RetryCount)
	}
	return output{RetryCount: fcc.RetryCount}, nil
}

func main() { fc.Start(handle) }
