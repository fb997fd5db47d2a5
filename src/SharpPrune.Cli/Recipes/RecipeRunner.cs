using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Vision.Data;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli.Recipes;

/// <summary>
/// Runs a recipe: expands its steps (<see cref="RecipeSteps"/>), checks every command line they will run, then
/// runs the steps not yet in the journal, each in its own folder under the run's folder, measuring test accuracy
/// and weight sparsity after each step that produced a checkpoint, and writes <c>summary.json</c>.
/// </summary>
internal sealed class RecipeRunner
{
    private readonly CliContext _ctx;
    private readonly PlanContext _plan;
    private IImageDataset? _test;

    public RecipeRunner(CliContext ctx, PlanContext plan) => (_ctx, _plan) = (ctx, plan);

    public TextWriter Out => _ctx.Out;

    public IReadOnlyList<PlannedStep> Plan()
    {
        var steps = new List<PlannedStep>();
        foreach (var s in _plan.Recipe.Steps)
            steps.AddRange(RecipeSteps.Find(s).Expand(s, _plan, $"{s.Index:00}-{s.Kind}"));
        var root = SharpPruneCli.BuildRoot(new CliContext(TextWriter.Null, TextWriter.Null));
        foreach (var step in steps.Where(x => x.CheckArgs is not null))
        {
            var parse = root.Parse(step.CheckArgs!);
            if (parse.Errors.Count > 0)
                throw new CliUsageException($"recipe step {step.Id}: {string.Join("; ", parse.Errors.Select(e => e.Message))} (sharpprune {string.Join(" ", step.CheckArgs!)})");
        }
        return steps;
    }

    /// <summary>Runs what is left of the plan; returns the entries of all finished steps. Stops early after <paramref name="stopAfterSteps"/> new steps.</summary>
    public List<JournalEntry> Run(IReadOnlyList<PlannedStep> steps, RunJournal journal, int? stopAfterSteps)
    {
        var done = journal.Done.ToDictionary(e => e.Id);
        string? current = null;
        int ran = 0;
        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            string head = $"== [{i + 1}/{steps.Count}] {step.Id}: {step.Title}";
            if (done.TryGetValue(step.Id, out var entry))
            {
                _ctx.Out.WriteLine($"{head} (done{Metrics(entry)})");
                current = entry.Checkpoint ?? current;
                continue;
            }
            if (ran == stopAfterSteps)
            {
                _ctx.Out.WriteLine($"stopped after {ran} step(s), as asked; run the same command again to continue");
                return journal.Done;
            }
            _ctx.Out.WriteLine();
            _ctx.Out.WriteLine(head);
            var clock = Stopwatch.StartNew();
            string dir = _plan.StepDir(step.Id);
            Directory.CreateDirectory(dir);
            string? produced = step.Run(new StepEnv(dir, current, this));
            double? acc = null, sparsity = null;
            if (produced is not null) (acc, sparsity) = Measure(produced);
            entry = new JournalEntry(step.Id, step.Title, produced ?? current, acc, sparsity, Math.Round(clock.Elapsed.TotalSeconds, 2));
            journal.Append(entry);
            if (produced is not null) _ctx.Out.WriteLine($"-> {produced}{Metrics(entry)}");
            current = entry.Checkpoint;
            ran++;
        }
        return journal.Done;
    }

    private static string Metrics(JournalEntry e) => e.TestAcc is double a
        ? string.Format(CultureInfo.InvariantCulture, ": test accuracy {0:F2}%, {1:F2}% of the conv/linear weights pruned", a, 100 * (e.WeightSparsity ?? 0))
        : "";

    /// <summary>Runs <c>sharpprune ARGS</c> in this process; its output goes to the console and to <c>DIR/output.log</c>.</summary>
    public void RunCommand(string[] args, string dir)
    {
        Directory.CreateDirectory(dir);
        using var log = new StreamWriter(Path.Combine(dir, "output.log"), append: true) { AutoFlush = true };
        log.WriteLine("$ sharpprune " + string.Join(" ", args.Select(a => a.Contains(' ') ? $"'{a}'" : a)));
        _ctx.Out.WriteLine("$ sharpprune " + string.Join(" ", args));
        var tee = new TeeWriter(_ctx.Out, log);
        int code = SharpPruneCli.Run(args, tee, _ctx.Err);
        if (code != 0)
            throw code == SharpPruneCli.ExitUsage
                ? new CliUsageException($"the step's command failed with exit code {code} (see the error above and {Path.Combine(dir, "output.log")})")
                : new CliException($"the step's command failed with exit code {code} (see the error above and {Path.Combine(dir, "output.log")})");
    }

    /// <summary>Test accuracy on the recipe's data and the share of Conv2d/Linear weights that are zero.</summary>
    private (double Acc, double Sparsity) Measure(string checkpoint)
    {
        var loaded = ModelLoader.Load(checkpoint);
        if (_test is null)
        {
            var (_, test) = DataSets.Load(DataSets.Resolve(_plan.Recipe.Data, _plan.DataDir), loaded.InputShape, loaded.ModelName);
            _test = DatasetLimit.Take(test, _plan.LimitTest);
        }
        var r = Evaluator.Evaluate(loaded.Model, new DataLoader(_test, 256, shuffle: false, Transforms.Test(DataSets.Info(_plan.Recipe.Data).Name), seed: 0));
        return (r.Accuracy, WeightSparsity(loaded.Model));
    }

    public static double WeightSparsity(Module model)
    {
        var names = model.NamedModules().Where(m => m.Module is Conv2d or Linear).Select(m => m.Name.Length == 0 ? "weight" : m.Name + ".weight").ToHashSet();
        var rows = PruningReport.FromModule(model).Rows.Where(r => names.Contains(r.Name)).ToList();
        long total = rows.Sum(r => r.Total);
        return total == 0 ? 0 : (double)rows.Sum(r => r.Pruned) / total;
    }

    /// <summary>summary.json: the recipe, every finished step with its metrics, and the final checkpoint.</summary>
    public static string WriteSummary(string outDir, Recipe recipe, IReadOnlyList<JournalEntry> entries, bool complete)
    {
        string path = Path.Combine(outDir, "summary.json");
        var doc = new
        {
            recipe = recipe.Name, recipe_file = recipe.Path, recipe_sha256 = recipe.Sha256, model = recipe.Model, data = recipe.Data,
            complete, final_checkpoint = entries.LastOrDefault(e => e.Checkpoint is not null)?.Checkpoint,
            total_seconds = Math.Round(entries.Sum(e => e.Seconds), 2), steps = entries,
        };
        SharpPrune.IO.AtomicFile.WriteAllText(path, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return path;
    }

    /// <summary>The per-step table printed at the end of a run.</summary>
    public static string FormatTable(IReadOnlyList<JournalEntry> entries)
    {
        int w = Math.Max(4, entries.Max(e => e.Id.Length));
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"{"step".PadRight(w)}  {"test acc",9}  {"sparsity",9}  {"seconds",8}");
        foreach (var e in entries)
            sb.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0}  {1,9}  {2,9}  {3,8:F1}", e.Id.PadRight(w),
                e.TestAcc is double a ? a.ToString("F2", CultureInfo.InvariantCulture) + "%" : "-",
                e.WeightSparsity is double s ? (100 * s).ToString("F2", CultureInfo.InvariantCulture) + "%" : "-", e.Seconds));
        return sb.ToString();
    }

    /// <summary>Writes to two writers: the console and a step's log file.</summary>
    private sealed class TeeWriter(TextWriter a, TextWriter b) : TextWriter
    {
        public override System.Text.Encoding Encoding => a.Encoding;
        public override void Write(char value) { a.Write(value); b.Write(value); }
        public override void Write(string? value) { a.Write(value); b.Write(value); }
        public override void WriteLine(string? value) { a.WriteLine(value); b.WriteLine(value); }
        public override void Flush() { a.Flush(); b.Flush(); }
    }
}
