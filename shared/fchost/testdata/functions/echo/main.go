// Command echo is a test function: it answers with its payload and everything the runtime told it,
// so tests can check the x-fc-* headers and the environment fchost gives a function. It can also
// fail on request, and re-invoke itself asynchronously through AUDITWARDEN_FC_ENDPOINT.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

type reply struct {
	Payload json.RawMessage      `json:"payload"`
	Context *fccontext.FcContext `json:"context"`
	Env     map[string]string    `json:"env"`
	Chained string               `json:"chained,omitempty"`
}

func handle(ctx context.Context, payload []byte) (*reply, error) {
	fcc, ok := fccontext.FromContext(ctx)
	if !ok {
		return nil, errors.New("no FC context")
	}
	var probe struct {
		Fail  string `json:"fail"`
		Chain int    `json:"chain"`
	}
	_ = json.Unmarshal(payload, &probe)
	if probe.Fail != "" {
		return nil, errors.New(probe.Fail)
	}
	raw := json.RawMessage(payload)
	if !json.Valid(payload) {
		raw, _ = json.Marshal(string(payload))
	}
	env := map[string]string{}
	for _, k := range []string{"FC_FUNCTION_NAME", "FC_REGION", "FC_ACCOUNT_ID", "FC_FUNCTION_HANDLER", "FC_FUNCTION_MEMORY_SIZE",
		"FC_INSTANCE_ID", "AUDITWARDEN_FC_ENDPOINT", "AUDITWARDEN_LOCALCLOUD", "GREETING", "HOME_REGION", "SECRET_FROM_HOST"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	out := &reply{Payload: raw, Context: fcc, Env: env}
	if probe.Chain > 0 {
		// Continue asynchronously, as the backfill worker does: FC's InvokeFunction API, locally fchost's.
		next, _ := json.Marshal(map[string]int{"chain": probe.Chain - 1})
		url := os.Getenv("AUDITWARDEN_FC_ENDPOINT") + "/2023-03-30/functions/" + fcc.Function.Name + "/invocations"
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(next))
		if err != nil {
			return nil, err
		}
		req.Header.Set("x-fc-invocation-type", "Async")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return nil, fmt.Errorf("async invoke: %s", resp.Status)
		}
		out.Chained = resp.Header.Get("x-fc-request-id")
	}
	fmt.Println("echo handled " + fcc.RequestID)
	return out, nil
}

func main() {
	fc.RegisterInitializerFunction(func(ctx context.Context) {
		fmt.Fprintln(os.Stderr, `{"level":"info","message":"echo initialized"}`)
	})
	fc.RegisterPreStopFunction(func(ctx context.Context) {
		fmt.Println("echo stopping")
	})
	fc.Start(handle)
}
