using SharpPrune.IO;
using SharpPrune.Tests.Training;
using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Cli;

/// <summary><c>sharpprune run recipe.yaml</c>: planning, errors, and resuming after an interruption.</summary>
public class RecipeRunTests
{
    private static string Write(string dir, string yaml)
    {
        string path = Path.Combine(dir, "recipe.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private const string Head = """
        name: quick
        model: lenet5
        data: fashion-mnist
        data_dir: sample
        train: {batch: 32, lr: 0.05, schedule: cosine}
        """;

    private static string[] Run(string recipe, string outDir, params string[] extra) =>
        ["run", recipe, "--out", outDir, "--limit-train", "128", "--limit-test", "64", .. extra];

    [Fact]
    public void ARunKilledMidStepContinuesWhereItStoppedAndEndsAsAnUninterruptedRun()
    {
        string dir = CliRunner.TempDir();
        string recipe = Write(dir, Head + """

            steps:
              - train: {epochs: 1}
              - prune: {method: global-l1, amount: 0.6}
              - finetune: {epochs: 2, lr: 0.01}
              - eval
              - export: {fold_bn: true}
            """);
        string full = Path.Combine(dir, "full"), cut = Path.Combine(dir, "cut");
        var a = CliRunner.Ok(Run(recipe, full));
        Assert.Contains("recipe quick done", a.Out);

        // Interrupted: two steps done, then killed after the first of the fine-tune's two epochs (the state a kill
        // leaves: the step's last.safetensors, no journal line).
        var stopped = CliRunner.Ok(Run(recipe, cut, "--stop-after-steps", "2"));
        Assert.True(File.Exists(Path.Combine(full, "05-export", "model.onnx")), "the export step writes the ONNX file");
        Assert.Contains("recipe quick stopped after 2/5 steps; continue with: sharpprune run", stopped.Out);
        string finetuneLine = CliRunner.Ok(Run(recipe, cut, "--list")).Out.Split('\n').Single(l => l.Contains("--save") && l.Contains("03-finetune")).Trim();
        var args = finetuneLine["sharpprune ".Length..].Split(' ').Select(x => x == "checkpoint.safetensors" ? Path.Combine(cut, "02-prune", "pruned.safetensors") : x).ToList();
        args.InsertRange(args.IndexOf("--save"), ["--stop-after", "1"]);
        CliRunner.Ok(args.ToArray());

        var resumed = CliRunner.Ok(Run(recipe, cut));
        Assert.Contains("(continuing: 2 done)", resumed.Out);
        Assert.Contains("01-train: train from scratch (done: test accuracy", resumed.Out);
        Assert.Contains("$ sharpprune train --resume " + Path.Combine(cut, "03-finetune"), resumed.Out);
        Assert.Contains("resuming", resumed.Out);
        Assert.Contains("recipe quick done", resumed.Out);
        TrainingData.AssertBitIdentical(Checkpoint.Load(Path.Combine(full, "03-finetune", CheckpointKeys.LastFile)).Model,
                                        Checkpoint.Load(Path.Combine(cut, "03-finetune", CheckpointKeys.LastFile)).Model);
        var again = CliRunner.Ok(Run(recipe, cut));
        Assert.DoesNotContain("$ sharpprune", again.Out); // everything done: nothing runs
        Assert.Contains("\"complete\": true", File.ReadAllText(Path.Combine(cut, "summary.json")));
        string html = File.ReadAllText(Path.Combine(cut, "report.html"));
        Assert.Contains("<td>03-finetune</td>", html);
        Assert.Equal(3, html.Split("<svg").Length - 1); // accuracy vs sparsity, the 2-epoch fine-tune's curves, final sparsity bars
        foreach (var plot in new[] { "accuracy_vs_sparsity", "training_03-finetune", "final_sparsity" })
            Assert.True(File.Exists(Path.Combine(cut, "plots", plot + ".png")) && File.Exists(Path.Combine(cut, "plots", plot + ".svg")), plot);
    }

    [Fact]
    public void IterateAndLotteryReachTheirTargetAndRewindToTheInit()
    {
        string dir = CliRunner.TempDir();
        string recipe = Write(dir, Head + """

            steps:
              - lottery: {rounds: 2, sparsity: 0.75, train: {epochs: 1}}
              - train: {epochs: 1}
              - iterate: {rounds: 2, sparsity: 0.9, method: l1-unstructured, layers: 'conv\d|fc[12]', finetune: {epochs: 1, lr: 0.01}}
            """);
        string outDir = Path.Combine(dir, "out");
        var r = CliRunner.Ok(Run(recipe, outDir));
        Assert.Contains("round 1/2: prune to 50% sparsity", r.Out);
        Assert.Contains("round 2/2: prune to 75% sparsity", r.Out);
        // The rewound weights are the saved init's, masked.
        var init = Checkpoint.Load(Path.Combine(outDir, "01-lottery-init", "init.safetensors")).Model.ToDictionary(kv => kv.Key, kv => kv.Value);
        var rewound = Checkpoint.Load(Path.Combine(outDir, "01-lottery-r2-rewind", "rewound.safetensors")).Model.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(init["conv2.weight"].ToArray(), rewound["conv2.weight_orig"].ToArray());
        Assert.Equal(init["fc1.bias"].ToArray(), rewound["fc1.bias"].ToArray());
        var summary = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json"))).RootElement;
        var steps = summary.GetProperty("steps").EnumerateArray().ToDictionary(e => e.GetProperty("id").GetString()!, e => e);
        Assert.Equal(0.75, steps["01-lottery-r2-train"].GetProperty("weight_sparsity").GetDouble(), 3);
        // iterate prunes conv1, conv2, fc1 and fc2 of the dense model of step 2, each to ~90%; fc3 stays dense.
        var final = Checkpoint.Load(Path.Combine(outDir, "03-iterate-r2-finetune", CheckpointKeys.LastFile)).Model.ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var layer in new[] { "conv1", "conv2", "fc1", "fc2" })
        {
            var mask = final[layer + ".weight_mask"];
            Assert.InRange(1 - (double)mask.CountNonZero() / mask.Numel, 0.895, 0.905);
        }
        Assert.False(final.ContainsKey("fc3.weight_mask"));
    }

    [Fact]
    public void QuantizeFinetuneAndCompressStepsEndInAnSpzFileThatEvaluatesLikeItsCheckpoint()
    {
        string dir = CliRunner.TempDir();
        string recipe = Write(dir, Head + """

            steps:
              - train: {epochs: 1}
              - prune: {method: global-l1, amount: 0.8}
              - quantize: {bits: 'conv=5,fc=4'}
              - finetune: {epochs: 1, lr: 0.005, wd: 0}
              - compress
              - eval: {json: true}
            """);
        string outDir = Path.Combine(dir, "out");
        var r = CliRunner.Ok(Run(recipe, outDir));
        Assert.Contains("recipe quick done", r.Out);
        string spz = Path.Combine(outDir, "05-compress", "model.spz");
        Assert.True(File.Exists(spz), "the compress step writes model.spz");
        Assert.Contains("--load " + spz, r.Out); // the eval step reads the .spz file
        // The .spz file evaluates exactly as the fine-tuned quantized checkpoint it was made from.
        string ckpt = Path.Combine(outDir, "04-finetune", CheckpointKeys.LastFile);
        string sample = SharpPrune.Vision.Data.Datasets.SampleDirectory!;
        (double Loss, double Accuracy) Eval(string file)
        {
            string json = CliRunner.Ok(["eval", "--load", file, "--data", "fashion-mnist", "--data-dir", sample, "--limit-test", "64", "--json"]).Out;
            var e = System.Text.Json.JsonDocument.Parse(json.Split('\n').Last(l => l.TrimStart().StartsWith('{'))).RootElement;
            return (e.GetProperty("loss").GetDouble(), e.GetProperty("accuracy").GetDouble());
        }
        Assert.Equal(Eval(ckpt), Eval(spz));
    }

    /// <summary>The repository's recipes/ folder, found upwards from the test binaries.</summary>
    private static string RecipesDir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SharpPrune.slnx"))) return Path.Combine(d.FullName, "recipes");
        throw new DirectoryNotFoundException("recipes/ not found above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string> ShippedRecipes() => new(Directory.GetFiles(RecipesDir(), "*.yaml").Select(f => Path.GetFileName(f)));

    [Theory]
    [MemberData(nameof(ShippedRecipes))]
    public void EveryShippedRecipePlansAndItsCommandLinesParse(string file)
    {
        var r = CliRunner.Ok("run", Path.Combine(RecipesDir(), file), "--list", "--out", CliRunner.TempDir());
        Assert.Contains("01-", r.Out);
    }

    [Theory]
    [InlineData("  - squash: {amount: 1}", "step 2 (squash, line 8): unknown step kind 'squash'; valid: train, finetune, prune")]
    [InlineData("  - prune: {method: global-l1, amout: 0.5}", "'amout' is not an option of 'sharpprune prune'; valid: method, amount")]
    [InlineData("  - prune: {method: global-l1, amount: 0.5, save: x.safetensors}", "'save' is set by the recipe runner")]
    [InlineData("  - train: {epochs: 0}", "recipe step 02-train: --epochs must be between 1 and 1000000, got 0")]
    [InlineData("  - iterate: {rounds: 2}", "needs 'sparsity'")]
    [InlineData("  - lottery: {rounds: 2, sparsity: 0.5, rewind_epoch: 3, train: {epochs: 2}}", "rewind_epoch 3 must be below the training epochs (2)")]
    [InlineData("  - prune: [1, 2", "not valid YAML at line")]
    public void BadRecipesFailBeforeAnythingRuns(string step, string message)
    {
        string dir = CliRunner.TempDir();
        string recipe = Write(dir, Head + "\nsteps:\n  - train: {epochs: 1}\n" + step + "\n");
        var r = CliRunner.Run(Run(recipe, Path.Combine(dir, "out")));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Err);
        Assert.False(Directory.Exists(Path.Combine(dir, "out", "01-train")), "nothing may run before the whole recipe checks");
    }

    [Fact]
    public void AChangedRecipeIsNotContinuedInTheOldFolder()
    {
        string dir = CliRunner.TempDir(), outDir = Path.Combine(dir, "out");
        string recipe = Write(dir, Head + "\nsteps:\n  - train: {epochs: 1}\n");
        CliRunner.Ok(Run(recipe, outDir));
        Write(dir, Head + "\nsteps:\n  - train: {epochs: 2}\n");
        var r = CliRunner.Run(Run(recipe, outDir));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("holds a run of a different version of the recipe", r.Err);
        var restarted = CliRunner.Ok(Run(recipe, outDir, "--restart"));
        Assert.Contains("epoch 2/2", restarted.Out);
    }
}
