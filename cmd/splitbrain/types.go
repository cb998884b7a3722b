package main

import "github.com/splitbrain-dev/splitbrain/harness/history"

type historyRun = history.Run
