// Command reconcile is the timer-triggered function: a full or incremental reconcile of the whole
// directory, its report written to the state bucket.
package main

import (
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/auditwarden/auditwarden/shared/app"
	"github.com/auditwarden/auditwarden/shared/logging"
)

func main() {
	log := logging.New(os.Stderr, "reconcile")
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		log.Fatal().Err(err).Msg("configuration")
	}
	fc.Start(app.New(cfg, log, app.SessionsFromEnv(log)).HandleTimer)
}
