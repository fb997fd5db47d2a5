using System.Diagnostics;
using System.Globalization;
using SharpPrune.Fuzz;

// Mutation fuzzing of every file reader, on demand (the test suite runs a few hundred cases per reader):
//   dotnet run -c Release --project tests/SharpPrune.Fuzz -- --cases 10000 [--targets safetensors,idx-images]
//       [--seed 1] [--timeout-s 10] [--budget-mb 64] [--findings DIR] [--markdown FILE]
// The process runs under a 2 GiB GC heap limit (SharpPrune.Fuzz.csproj): an input that would exceed it counts as
// over-allocation. Exit code 0 when every case ended as a clean error or an accepted input, 1 otherwise.
int cases = 10_000, seed = 1, timeoutS = 10, budgetMb = 64;
string[]? only = null;
string? findingsDir = null, markdown = null;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--cases": cases = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--timeout-s": timeoutS = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--budget-mb": budgetMb = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--targets": only = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
        case "--findings": findingsDir = Next(); break;
        case "--markdown": markdown = Next(); break;
        default:
            Console.Error.WriteLine($"unknown option {args[i]}; options: --cases N --targets a,b --seed S --timeout-s S --budget-mb M --findings DIR --markdown FILE");
            Console.Error.WriteLine($"targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
            return 2;
    }
}

var targets = only is null ? FuzzTargets.All : only.Select(FuzzTargets.Get).ToList();
var lines = new List<string>
{
    $"# Fuzz run: {cases:N0} cases per reader, seed {seed}, {timeoutS} s per case, {budgetMb} MiB allocation budget per case (+16 x input), 2 GiB heap cap",
    "",
    $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}",
    "",
    "| reader | cases | clean error | accepted valid | crash | hang | over-allocation | max alloc/case | seconds |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
};
Console.WriteLine(lines[0]);
bool allClean = true;
foreach (var t in targets)
{
    var r = FuzzRunner.Run(t, cases, seed, TimeSpan.FromSeconds(timeoutS), budgetMb * 1024L * 1024L);
    allClean &= r.AllClean;
    string row = string.Format(CultureInfo.InvariantCulture, "| {0} | {1:N0} | {2:N0} | {3:N0} | {4:N0} | {5:N0} | {6:N0} | {7:F1} MiB | {8:F0} |",
        r.Target, r.Cases, r.Counts[Outcome.CleanError], r.Counts[Outcome.AcceptedValid], r.Counts[Outcome.Crash],
        r.Counts[Outcome.Hang], r.Counts[Outcome.OverAllocation], r.MaxAllocatedBytes / 1048576.0, r.Seconds);
    lines.Add(row);
    Console.WriteLine(row);
    foreach (var f in r.Findings)
    {
        Console.WriteLine($"  {f.Outcome} in case {f.Case}: {f.Detail}");
        if (findingsDir is not null)
        {
            Directory.CreateDirectory(findingsDir);
            File.WriteAllBytes(Path.Combine(findingsDir, $"{f.Target}-{f.Case}-{f.Outcome}.bin"), f.Input);
        }
    }
}
lines.Add("");
lines.Add($"peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:F0} MiB; {(allClean ? "no crash, hang or over-allocation" : "FINDINGS: see the console output")}");
Console.WriteLine(lines[^1]);
if (markdown is not null) File.WriteAllLines(markdown, lines);
return allClean ? 0 : 1;
