// Command backfill is the asynchronous backfill worker: each invocation advances the backfill
// jobs of a few accounts (a backfill.StepRequest) until shortly before its deadline,
// checkpointing after every page, and invokes itself again to continue.
package main

import (
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/auditwarden/auditwarden/shared/logging"
	"github.com/auditwarden/auditwarden/shared/settings"
)

func main() {
	log := logging.New(os.Stderr, "backfill")
	cfg, err := settings.FromEnv()
	if err != nil {
		log.Fatal().Err(err).Msg("configuration")
	}
	fc.Start(newHandler(cfg, log).Handle)
}
