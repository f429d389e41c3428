// Package fchost is a local Function Compute 3.0 host: it reads an s.yaml (Serverless Devs 3,
// component fc3), builds each function's Go handler for this machine, runs it as a process with
// FC_RUNTIME_API pointed at fchost, and drives it exactly through the runtime API that
// fc-runtime-go-sdk speaks, so `make demo` and end-to-end tests need no cloud and no Docker.
//
// What it emulates:
//
//   - Runtime API (loopback, one path per instance): GET next long-polls and never answers
//     non-200 while idle; every x-fc-* header the SDK reads is sent, including the function
//     role's STS credentials (Options.Credentials; LocalcloudCredentials gets them from localcloud).
//     One process per function serves concurrent invocations. An invocation past its timeout
//     fails (ErrTimeout) and its instance is killed and restarted, as FC does with a stuck
//     instance; a crashed process is restarted with backoff; instanceLifecycleConfig initializer
//     and preStop hooks run.
//   - HTTP triggers: one listener per function (each FC function has its own domain, so the
//     function sees the request's real path). The request becomes the FC 3.0 HTTP event and the
//     function's {statusCode, headers, isBase64Encoded, body} becomes the response. Methods not
//     in triggerConfig.methods get 405. authType function: FC verifies a signature; fchost
//     requires Authorization: Bearer <token> (Options.AuthToken, printed at startup) on mutating
//     methods (POST, PUT, PATCH, DELETE) and answers 401 {"error": "..."} without it; GET and
//     HEAD pass. jwt is treated like function. The event carries X-Fc-Authenticated: true|false.
//   - Timers: robfig/cron with FC's six fields (seconds first), in UTC; enable: false is not
//     scheduled. A firing invokes asynchronously with the timer payload
//     {"triggerTime","triggerName","payload"}. FireTimer fires one synchronously.
//   - EventBridge: each eventbridge trigger subscribes to localcloud's bus (Options.EventBridge)
//     with its eventRuleFilterPattern; a delivery (the CloudEvent JSON) invokes the function,
//     asynchronously when asyncInvocationType is true. Unsubscribed on Close.
//   - Asynchronous invocation: InvokeAsync and the InvokeFunction API with
//     x-fc-invocation-type: Async. A failure is retried up to maxAsyncRetryAttempts (default 3)
//     with backoff, x-fc-retry-count counting; an event older than maxAsyncEventAgeInSeconds is
//     dropped. AsyncStatus and GET .../async-tasks/{requestId} report it.
//   - InvokeFunction API: POST {AUDITWARDEN_FC_ENDPOINT}/2023-03-30/functions/{name}/invocations,
//     the FC 3.0 path. Every function gets AUDITWARDEN_FC_ENDPOINT so it can invoke (itself)
//     the same way it calls FC's API in the cloud. A function error answers 200 with
//     x-fc-error-type: UnhandledInvocationError and the error JSON; async answers 202 with the
//     x-fc-request-id. This API is not authenticated (it listens on loopback).
//
// A function's environment is PATH, HOME, TMPDIR, TZ, LANG and AUDITWARDEN_LOG_LEVEL from the host,
// then s.yaml's environmentVariables, then Options.Env, then FC_FUNCTION_NAME, FC_FUNCTION_HANDLER,
// FC_FUNCTION_MEMORY_SIZE, FC_REGION, FC_ACCOUNT_ID, FC_INSTANCE_ID, FC_RUNTIME_API and
// AUDITWARDEN_FC_ENDPOINT. Its stdout and stderr are forwarded line by line into fchost's JSON
// log with the fields function, instance and stream (a line that is a JSON object is nested as record).
package fchost
