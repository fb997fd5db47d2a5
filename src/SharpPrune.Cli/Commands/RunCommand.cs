using System.CommandLine;
using SharpPrune.Cli.Recipes;

namespace SharpPrune.Cli.Commands;

/// <summary>
/// <c>sharpprune run recipe.yaml</c>: a whole experiment from one file (train, prune, fine-tune, iterate,
/// lottery ticket…) into one folder; run it again after an interruption and it continues where it stopped.
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliContext ctx)
    {
        var recipe = new Argument<string>("recipe") { Description = "The recipe file (YAML; see recipes/README.md)" };
        var output = CliOptions.String("--out", "Output folder [default: runs/<recipe name>]");
        var dataDir = CliOptions.String("--data-dir", "Data folder for every step, replacing the recipe's data_dir ('sample': the shipped sample)");
        var restart = CliOptions.Flag("--restart", "Delete the folder's earlier run of this recipe and start over");
        var list = CliOptions.Flag("--list", "Only print the planned steps");
        var limitTrain = CliOptions.OptionalInt("--limit-train", "Use only the first N training images in every step", 1, hidden: true);
        var limitTest = CliOptions.OptionalInt("--limit-test", "Use only the first N test images in every step", 1, hidden: true);
        var stopAfter = CliOptions.OptionalInt("--stop-after-steps", "Stop after N steps, as if interrupted", 0, hidden: true);
        var cmd = new Command("run", "Run a recipe: a whole pruning experiment from a YAML file, resumable")
            { recipe, output, dataDir, restart, list, limitTrain, limitTest, stopAfter };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            var r = Recipe.Load(parse.GetValue(recipe)!);
            string outDir = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("runs", r.Name));
            var plan = new PlanContext(r, outDir, SharpPruneCli.BuildRoot(new CliContext(TextWriter.Null, TextWriter.Null)),
                parse.GetValue(dataDir), parse.GetValue(limitTrain), parse.GetValue(limitTest));
            var runner = new RecipeRunner(ctx, plan);
            var steps = runner.Plan();
            if (parse.GetValue(list))
            {
                for (int i = 0; i < steps.Count; i++)
                    ctx.Out.WriteLine($"{i + 1,3}. {steps[i].Id}: {steps[i].Title}" + (steps[i].CheckArgs is { } a ? $"\n       sharpprune {string.Join(" ", a)}" : ""));
                return 0;
            }
            if (parse.GetValue(restart)) Clear(outDir, steps);
            var journal = RunJournal.Open(outDir, r);
            File.Copy(r.Path, Path.Combine(outDir, "recipe.yaml"), overwrite: true);
            ctx.Out.WriteLine($"recipe {r.Name}: {steps.Count} steps -> {outDir}" +
                (journal.Done.Count > 0 ? $" (continuing: {journal.Done.Count} done)" : ""));
            var entries = runner.Run(steps, journal, parse.GetValue(stopAfter));
            bool complete = steps.All(s => entries.Any(e => e.Id == s.Id));
            string summary = RecipeRunner.WriteSummary(outDir, r, entries, complete);
            string report = RunReport.Write(outDir, r, entries);
            ctx.Out.WriteLine();
            if (entries.Count > 0) ctx.Out.Write(RecipeRunner.FormatTable(entries));
            ctx.Out.WriteLine(complete
                ? $"recipe {r.Name} done: final checkpoint {entries.Last(e => e.Checkpoint is not null).Checkpoint}; summary {summary}; report {report}"
                : $"recipe {r.Name} stopped after {entries.Count}/{steps.Count} steps; continue with: sharpprune run {r.Path} --out {outDir}");
            return 0;
        });
        return cmd;
    }

    /// <summary>--restart: removes the journal, summary and the planned steps' folders (nothing else in the folder).</summary>
    private static void Clear(string outDir, IReadOnlyList<PlannedStep> steps)
    {
        foreach (var f in new[] { RunJournal.FileName, "summary.json" })
            if (File.Exists(Path.Combine(outDir, f))) File.Delete(Path.Combine(outDir, f));
        foreach (var s in steps)
            if (Directory.Exists(Path.Combine(outDir, s.Id))) Directory.Delete(Path.Combine(outDir, s.Id), recursive: true);
    }
}
