// Package specbin gives the behaviour specs (specs/...) the binaries they run: [Build] honours
// $SPLITBRAIN_BIN or builds cmd/splitbrain once, [BuildPackage] always builds, and [Shared]
// copies a binary where a peer run as another uid can execute it. Each returns a cleanup that
// removes only what it made, for the suite's SynchronizedAfterSuite.
package specbin
