using System.Runtime.CompilerServices;

// The tests read exported files back through the generated protobuf types.
[assembly: InternalsVisibleTo("SharpPrune.Tests")]
