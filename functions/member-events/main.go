// Command member-events is the EventBridge-triggered function: an ActionTrail record of a
// Resource Directory change enrols, re-evaluates or offboards one member.
package main

import (
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/auditwarden/auditwarden/shared/app"
	"github.com/auditwarden/auditwarden/shared/logging"
)

func main() {
	log := logging.New(os.Stderr, "member-events")
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		log.Fatal().Err(err).Msg("configuration")
	}
	fc.Start(app.New(cfg, log, app.SessionsFromEnv(log)).HandleMembershipEvent)
}
