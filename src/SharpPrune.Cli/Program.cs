return SharpPrune.Cli.SharpPruneCli.Run(args);
