// Command api is the HTTP-triggered function: setup, dry-run plan, status (JSON and HTML),
// member enrol/offboard, Log Audit custom authentication and backfill control.
package main

import (
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/auditwarden/auditwarden/shared/app"
	"github.com/auditwarden/auditwarden/shared/fcevent"
	"github.com/auditwarden/auditwarden/shared/httpapi"
	"github.com/auditwarden/auditwarden/shared/logging"
)

func main() {
	log := logging.New(os.Stderr, "api")
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		log.Fatal().Err(err).Msg("configuration")
	}
	a := app.New(cfg, log, app.SessionsFromEnv(log))
	fc.Start(fcevent.HTTPHandler(httpapi.New(a, log)))
}
