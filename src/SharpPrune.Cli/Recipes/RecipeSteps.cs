using System.Globalization;
using SharpPrune.IO;
using SharpPrune.Pruning;
using SharpPrune.Pruning.Schedules;
using SharpPrune.Vision.Training;
using YamlDotNet.RepresentationModel;

namespace SharpPrune.Cli.Recipes;

/// <summary>A kind of recipe step: its name in the YAML, a line of help, and how it expands into planned steps.</summary>
internal sealed record StepKind(string Name, string Summary, Func<RecipeStep, PlanContext, string, IEnumerable<PlannedStep>> Expand);

/// <summary>
/// The step kinds a recipe can use. Adding one is one entry here: a command that transforms a checkpoint
/// (prune, shrink, quantize, compress) is <see cref="Transform"/> with its command name
/// and output file; a composite kind expands into several planned steps (see <see cref="Iterate"/>).
/// </summary>
internal static class RecipeSteps
{
    public static readonly IReadOnlyList<StepKind> Kinds =
    [
        new("train", "train the recipe's model from scratch (sharpprune train)",
            (s, p, id) => [p.Command(id, "train from scratch", "train", p.TrainOptions(s.Options), StepIo.TrainFresh, s.Where)]),
        new("finetune", "train the current checkpoint further, masks kept (sharpprune train --load)",
            (s, p, id) => [p.Command(id, "fine-tune", "train", p.TrainOptions(s.Options), StepIo.TrainFrom, s.Where)]),
        Transform("prune", "prune the current checkpoint (sharpprune prune: any method, global, per layer or --rates)", "prune", "pruned.safetensors"),
        Transform("shrink", "remove channels for a physically smaller model (sharpprune shrink)", "shrink", "shrunk.safetensors"),
        Transform("quantize", "share weights by k-means per layer (sharpprune quantize; a finetune after it trains the centroids)", "quantize", "quantized.safetensors"),
        Transform("compress", "write the quantized checkpoint as a Huffman-coded sparse .spz file (sharpprune compress)", "compress", "model.spz"),
        new("eval", "evaluate the current checkpoint (sharpprune eval)",
            (s, p, id) => [p.Command(id, "evaluate", "eval", s.Options, StepIo.Inspect, s.Where)]),
        new("report", "print the per-layer sparsity table (sharpprune report)",
            (s, p, id) => [p.Command(id, "report", "report", s.Options, StepIo.Inspect, s.Where)]),
        new("export", "write the current checkpoint as ONNX (or format: pt, a PyTorch state dict) into the step's folder (sharpprune export)",
            (s, p, id) => [p.Command(id, "export", "export", s.Options, StepIo.Export, s.Where, s.Text("format") == "pt" ? "model.pt" : "model.onnx")]),
        new("iterate", "prune -> fine-tune, N rounds to a target sparsity (Han et al. 2015's iterative pruning)", Iterate),
        new("lottery", "iterative magnitude pruning with weights rewound to init or epoch k (Frankle & Carbin 2019)", Lottery),
    ];

    public static StepKind Find(RecipeStep step) => Kinds.FirstOrDefault(k => k.Name == step.Kind)
        ?? throw new CliUsageException($"recipe {step.Where}: unknown step kind '{step.Kind}'; valid: {string.Join(", ", Kinds.Select(k => k.Name))}");

    /// <summary>A step running a command that reads the current checkpoint and writes <paramref name="outputFile"/> in its folder.</summary>
    private static StepKind Transform(string name, string summary, string command, string outputFile) =>
        new(name, summary, (s, p, id) => [p.Command(id, name, command, s.Options, StepIo.Transform, s.Where, outputFile)]);

    private static readonly string[] RoundKeys = ["rounds", "sparsity", "method", "layers", "shape"];

    /// <summary>
    /// <c>iterate: {rounds: 3, sparsity: 0.9, method: global-l1, finetune: {epochs: 2, lr: 0.01}}</c>: each round
    /// prunes the share of the remaining weights that brings the sparsity to the round's target (geometric by
    /// default: the same share each round; <c>shape: linear|cubic</c>), then fine-tunes with the masks held.
    /// </summary>
    private static IEnumerable<PlannedStep> Iterate(RecipeStep s, PlanContext p, string id)
    {
        s.OnlyKeys([.. RoundKeys, "finetune"]);
        var schedule = RoundSchedule(s);
        var finetune = p.TrainOptions(s.Mapping("finetune"));
        for (int r = 1; r <= schedule.Rounds; r++)
        {
            yield return PruneRound(s, p, $"{id}-r{r}-prune", schedule, r);
            yield return p.Command($"{id}-r{r}-finetune", $"round {r}/{schedule.Rounds}: fine-tune", "train", finetune, StepIo.TrainFrom, s.Where + " finetune");
        }
    }

    /// <summary>
    /// <c>lottery: {rounds: 3, sparsity: 0.9, rewind_epoch: 0, train: {epochs: 10}}</c>: train; then per round prune
    /// (as <see cref="Iterate"/>), reset the surviving weights to their values at initialisation (or after epoch
    /// <c>rewind_epoch</c>, "late rewinding"), and train again for the remaining epochs. The last round's training
    /// is the ticket.
    /// </summary>
    private static IEnumerable<PlannedStep> Lottery(RecipeStep s, PlanContext p, string id)
    {
        s.OnlyKeys([.. RoundKeys, "rewind_epoch", "train"]);
        var schedule = RoundSchedule(s);
        var train = p.TrainOptions(s.Mapping("train"));
        int epochs = train.TryGetValue("epochs", out var e) && int.TryParse(Recipe.ToOptionText(e, "epochs"), out int ep) && ep >= 1 ? ep
            : throw new CliUsageException($"recipe {s.Where}: the lottery's train options (or the recipe's train: defaults) need epochs >= 1");
        int k = s.Int("rewind_epoch", 0) ?? 0;
        if (k >= epochs) throw new CliUsageException($"recipe {s.Where}: rewind_epoch {k} must be below the training epochs ({epochs})");

        string rewindTo;
        if (k == 0)
        {
            string initDir = p.StepDir($"{id}-init");
            rewindTo = Path.Combine(initDir, "init.safetensors");
            yield return new PlannedStep($"{id}-init", "save the initial weights (the rewind point)", env => SaveInit(env, p, train, rewindTo));
            yield return p.Command($"{id}-train", $"train {epochs} epochs from the saved init", "train", train, StepIo.TrainFrom, s.Where + " train");
        }
        else
        {
            var toK = new Dictionary<string, YamlNode>(train) { ["stop_after"] = new YamlScalarNode(k.ToString(CultureInfo.InvariantCulture)) };
            var first = p.Command($"{id}-train", $"train to epoch {k} (the rewind point)", "train", toK, StepIo.TrainFresh, s.Where + " train");
            string trainDir = p.StepDir($"{id}-train");
            rewindTo = Path.Combine(p.StepDir($"{id}-rewind-point"), $"epoch{k}.safetensors");
            yield return first;
            yield return new PlannedStep($"{id}-rewind-point", $"keep the weights after epoch {k}", env =>
            {
                Directory.CreateDirectory(env.Dir);
                AtomicFile.Write(rewindTo, stream => { using var src = File.OpenRead(Path.Combine(trainDir, CheckpointKeys.LastFile)); src.CopyTo(stream); });
                return null;
            });
            yield return new PlannedStep($"{id}-train-rest", $"train on to epoch {epochs}", env =>
            {
                env.Runner.RunCommand(["train", "--resume", trainDir], env.Dir);
                return Path.Combine(trainDir, CheckpointKeys.LastFile);
            }, ["train", "--resume", trainDir]);
        }

        var retrain = new Dictionary<string, YamlNode>(train) { ["epochs"] = new YamlScalarNode((epochs - k).ToString(CultureInfo.InvariantCulture)) };
        for (int r = 1; r <= schedule.Rounds; r++)
        {
            yield return PruneRound(s, p, $"{id}-r{r}-prune", schedule, r);
            string rewound = Path.Combine(p.StepDir($"{id}-r{r}-rewind"), "rewound.safetensors");
            yield return new PlannedStep($"{id}-r{r}-rewind", $"round {r}/{schedule.Rounds}: rewind the surviving weights", env => RewindTo(env, rewindTo, rewound));
            yield return p.Command($"{id}-r{r}-train", $"round {r}/{schedule.Rounds}: train the rewound sparse net", "train", retrain, StepIo.TrainFrom, s.Where + " train");
        }
    }

    private static IterativeSchedule RoundSchedule(RecipeStep s)
    {
        int rounds = s.Int("rounds", 1) ?? throw new CliUsageException($"recipe {s.Where} needs 'rounds'");
        double sparsity = s.Number("sparsity", 0, 0.9999) ?? throw new CliUsageException($"recipe {s.Where} needs 'sparsity' (the final share of pruned weights)");
        var shape = (s.Text("shape") ?? "geometric").ToLowerInvariant() switch
        {
            "geometric" => IterativeShape.Geometric, "linear" => IterativeShape.Linear, "cubic" => IterativeShape.Cubic,
            var other => throw new CliUsageException($"recipe {s.Where}: shape must be geometric, linear or cubic, got '{other}'"),
        };
        return new IterativeSchedule(rounds, sparsity, shape);
    }

    /// <summary>
    /// One round's pruning to the round's target sparsity of the selected layers (absolute: a model pruned before
    /// the rounds counts). The amount is the share of the still-unpruned weights that reaches the target, computed
    /// when the round runs from the checkpoint's masks; a target already reached prunes nothing.
    /// </summary>
    private static PlannedStep PruneRound(RecipeStep s, PlanContext p, string id, IterativeSchedule schedule, int round)
    {
        string method = s.Text("method") ?? "global-l1";
        if (method is not ("global-l1" or "l1-unstructured"))
            throw new CliUsageException($"recipe {s.Where}: rounds prune by magnitude: method must be global-l1 or l1-unstructured, got '{method}'");
        string? layers = s.Text("layers");
        double target = schedule.TargetAt(round);
        PlannedStep WithAmount(double amount)
        {
            var options = new Dictionary<string, YamlNode>
            {
                ["method"] = new YamlScalarNode(method),
                ["amount"] = new YamlScalarNode(amount.ToString("0.0##############", CultureInfo.InvariantCulture)),
            };
            if (layers is not null) options["layers"] = new YamlScalarNode(layers);
            return p.Command(id, Title(), "prune", options, StepIo.Transform, s.Where, "pruned.safetensors");
        }
        string Title() => string.Format(CultureInfo.InvariantCulture, "round {0}/{1}: prune to {2:0.##}% sparsity", round, schedule.Rounds, 100 * target);
        var check = WithAmount(schedule.FractionOfRemainingAt(round));
        return new PlannedStep(id, Title(), env =>
        {
            var loaded = ModelLoader.Load(env.RequireInput(id));
            var targets = Sparsity.ConvAndLinearWeights(loaded.Model, layers is null ? null
                : name => System.Text.RegularExpressions.Regex.IsMatch(name, $"^(?:{layers})$"));
            double now = Sparsity.Of(targets);
            double amount = Math.Max(0, 1 - (1 - target) / (1 - now));
            return WithAmount(amount).Run(env);
        }, check.CheckArgs);
    }

    private static string SaveInit(StepEnv env, PlanContext p, IReadOnlyDictionary<string, YamlNode> train, string path)
    {
        ulong seed = ulong.Parse(train.TryGetValue("seed", out var sd) ? Recipe.ToOptionText(sd, "seed") : p.Recipe.Seed ?? "1", CultureInfo.InvariantCulture);
        var info = DataSets.Info(p.Recipe.Data);
        var model = ModelLoader.Create(p.Recipe.Model, info.NumClasses, seed);
        Directory.CreateDirectory(env.Dir);
        Checkpoint.Save(path, model, null, null, new Dictionary<string, string>
        {
            [CheckpointKeys.Model] = Vision.Models.ModelZoo.Canonical(p.Recipe.Model),
            [CheckpointKeys.Dataset] = info.Name,
            [CheckpointKeys.NumClasses] = info.NumClasses.ToString(CultureInfo.InvariantCulture),
        });
        return path;
    }

    private static string RewindTo(StepEnv env, string rewindPoint, string output)
    {
        string input = env.RequireInput("rewind");
        var pruned = ModelLoader.Load(input);
        var point = ModelLoader.ReadCheckpoint(rewindPoint);
        try { Rewind.To(pruned.Model, point.Model); }
        catch (Exception e) when (e is KeyNotFoundException or ArgumentException)
        {
            throw new CliException($"cannot rewind {input} to {rewindPoint}: {ErrorMessages.OneLine(e)}", e);
        }
        Directory.CreateDirectory(env.Dir);
        var meta = Commands.PruneCommand.DerivedMetadata(pruned);
        meta["rewound_to"] = rewindPoint;
        Checkpoint.Save(output, pruned.Model, null, null, meta);
        env.Runner.Out.WriteLine($"rewound the surviving weights of {input} to {rewindPoint}; saved {output}");
        return output;
    }
}
