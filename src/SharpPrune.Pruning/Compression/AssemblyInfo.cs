using System.Runtime.CompilerServices;

// The tests drive the bit stream and Huffman decoder directly; #13's fuzz harness goes through SpzFile.Read.
[assembly: InternalsVisibleTo("SharpPrune.Tests")]
