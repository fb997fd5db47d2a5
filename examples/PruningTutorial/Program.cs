// PyTorch's torch.nn.utils.prune tutorial, and a walk through the same API, on LeNet with SharpPrune.Pruning:
//   dotnet run --project examples/PruningTutorial [seed]
using SharpPrune.Examples.PruningTutorial;

ulong seed = args.Length > 0 && ulong.TryParse(args[0], out var s) ? s : 0;
PruningTutorialFlow.Run(Console.Out, seed);
