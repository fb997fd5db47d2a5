using System.Runtime.CompilerServices;

// Kernel tests flip internal switches (portable path, thresholds) and benches tune blocking sizes.
[assembly: InternalsVisibleTo("SharpPrune.Tests")]
[assembly: InternalsVisibleTo("SharpPrune.Bench")]
