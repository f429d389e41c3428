// Command http is a test function behind an HTTP trigger: it answers with what it saw of the
// request, as FC 3.0 event functions answer HTTP triggers.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/aliyun/fc-runtime-go-sdk/events"
	"github.com/aliyun/fc-runtime-go-sdk/fc"
)

type seen struct {
	Method          string            `json:"method"`
	RawPath         string            `json:"rawPath"`
	Path            string            `json:"path"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Headers         map[string]string `json:"headers"`
	Query           map[string]string `json:"query"`
	RequestID       string            `json:"requestId"`
	SourceIP        string            `json:"sourceIp"`
	TimeEpoch       string            `json:"timeEpoch"`
	Version         string            `json:"version"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func handle(_ context.Context, ev events.HTTPTriggerEvent) (*events.HTTPTriggerResponse, error) {
	s := seen{
		Method: str(ev.TriggerContext.Http.Method), RawPath: str(ev.RawPath), Path: str(ev.TriggerContext.Http.Path),
		Body: str(ev.Body), RequestID: str(ev.TriggerContext.RequestId), SourceIP: str(ev.TriggerContext.Http.SourceIp),
		TimeEpoch: str(ev.TriggerContext.TimeEpoch), Version: str(ev.Version),
	}
	if ev.IsBase64Encoded != nil {
		s.IsBase64Encoded = *ev.IsBase64Encoded
	}
	if ev.Headers != nil {
		s.Headers = *ev.Headers
	}
	if ev.QueryParameters != nil {
		s.Query = *ev.QueryParameters
	}
	if s.RawPath == "/binary" {
		return &events.HTTPTriggerResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/octet-stream"},
			IsBase64Encoded: true, Body: base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255})}, nil
	}
	if s.RawPath == "/raw" {
		// Not the response shape: FC answers 200 with the JSON the function returned.
		return nil, nil
	}
	body, _ := json.Marshal(s)
	status := 200
	if s.Method == "POST" {
		status = 201
	}
	return &events.HTTPTriggerResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json", "X-Echo": "yes"}, Body: string(body)}, nil
}

func main() { fc.Start(handle) }
