using System.CommandLine;
using System.Globalization;
using SharpPrune.IO;
using SharpPrune.Kernels;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Vision.Models;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli.Commands;

/// <summary>What <c>train</c> will do: the configuration, the model to train and where to save, for each of its three modes.</summary>
internal sealed record TrainPlan(string Mode, TrainConfig Config, Module Model, int[] InputShape, string SaveDir,
    CheckpointData? ResumeFrom = null, IReadOnlyDictionary<string, string>? ExtraMetadata = null)
{
    /// <summary>A new run: model and dataset from the options.</summary>
    public static TrainPlan Fresh(ParseResult parse, TrainOptions o)
    {
        string model = parse.GetValue(o.Model)
            ?? throw new CliUsageException($"--model is required (valid: {string.Join(", ", ModelZoo.Names)})");
        string data = parse.GetValue(o.Data)
            ?? throw new CliUsageException("--data is required (fashion-mnist needs no --data-dir: a sample ships with the repository)");
        var info = DataSets.Info(data);
        var cfg = FromOptions(parse, o, ModelZoo.Contains(model) ? ModelZoo.Canonical(model) : model, info.Name, info.NumClasses);
        var module = ModelLoader.Create(cfg.Model, cfg.NumClasses, cfg.Seed);
        DataSets.CheckShape(info.Name, cfg.Model);
        cfg = cfg.WithData(DataSets.Resolve(info.Name, DataDirOption(parse, o))); // recorded: eval and resume read the same files
        return new TrainPlan("training", cfg, module, ModelZoo.InputShape(cfg.Model), parse.GetValue(o.Save) ?? Path.Combine("runs", $"{cfg.Model}-{cfg.Dataset}"));
    }

    /// <summary>A new run starting from a checkpoint's weights (and masks, if it is pruned).</summary>
    public static TrainPlan ForLoad(CliContext ctx, ParseResult parse, TrainOptions o, string path)
    {
        var loaded = ModelLoader.Load(path, parse.GetValue(o.Model));
        string data = parse.GetValue(o.Data) ?? loaded.Dataset
            ?? throw new CliUsageException($"{path} does not record its dataset; pass --data");
        var info = DataSets.Info(data);
        if (info.NumClasses != loaded.NumClasses)
            throw new CliUsageException($"{path} holds a {loaded.NumClasses}-class model but {info.Name} has {info.NumClasses} classes");
        var cfg = FromOptions(parse, o, loaded.ModelName, info.Name, info.NumClasses);
        var source = DataDirOption(parse, o) is string dir ? DataSets.Resolve(info.Name, dir)
            : loaded.RecordedConfig(info.Name) is { } trained ? DataSets.ForRecorded(ctx, trained, null, path, mustMatch: false)
            : DataSets.Resolve(info.Name, null);
        cfg = (cfg with { InitFrom = path }).WithData(source);
        string save = parse.GetValue(o.Save)
            ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFileNameWithoutExtension(path) + "-retrain");
        string mode = loaded.IsPruned ? $"retraining pruned {path} (masks kept)" : $"training from the weights of {path}";
        // The structure goes with every checkpoint the run writes (an ONNX file as source has no metadata to copy).
        var metadata = loaded.Checkpoint.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        if (loaded.IsGraph)
        {
            var (key, structure) = loaded.StructureMetadata();
            metadata[key] = structure;
        }
        return new TrainPlan(mode, cfg, loaded.Model, loaded.InputShape, save, null, metadata);
    }

    /// <summary>Continue a run from its last checkpoint with the settings it was started with.</summary>
    public static TrainPlan ForResume(CliContext ctx, ParseResult parse, TrainOptions o, string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, CheckpointKeys.LastFile) : path;
        var ckpt = ModelLoader.ReadCheckpoint(file);
        var saved = TrainConfig.FromJson(CheckpointKeys.Required(ckpt, CheckpointKeys.Config), file);
        RejectChangedSettings(parse, o, saved);
        var cfg = (saved with { Epochs = CliOptions.Given(parse, o.Epochs) ? parse.GetValue(o.Epochs) : saved.Epochs })
            .WithData(DataSets.ForRecorded(ctx, saved, DataDirOption(parse, o), file, mustMatch: true));
        MatchThreads(ctx, parse, ckpt);
        if (ckpt.Get(CheckpointKeys.DefaultRng) is { } rng) Checkpoint.RestoreRngState(Generator.Default, rng);

        ModelLoader.CheckNumClasses(ckpt, file, cfg.NumClasses, $"its '{CheckpointKeys.Config}' num_classes");
        Module model;
        int[] inputShape;
        if (ckpt.Get(CheckpointKeys.Graph) is not null) // a run from a model imported from ONNX
        {
            var g = ModelLoader.BuildGraph(ckpt, file);
            (model, inputShape) = (g, g.InputShape.ToArray());
        }
        else
        {
            model = ModelLoader.CreateRecorded(cfg.Model, cfg.NumClasses, cfg.Seed, file);
            inputShape = ModelZoo.InputShape(cfg.Model);
            if (ckpt.Get(ModelArchitecture.MetadataKey) is { } architecture) ModelArchitecture.Apply(model, architecture, file); // a shrunk run
        }
        PrunedStateDict.Prepare(model, ckpt.Model); // a pruned run resumes with the same reparametrisation
        string save = parse.GetValue(o.Save) ?? Path.GetDirectoryName(Path.GetFullPath(file))!;
        int done = CheckpointKeys.ParseInt(ckpt, CheckpointKeys.Epoch);
        return new TrainPlan($"resuming {file} after epoch {done}", cfg, model, inputShape, save, ckpt, ckpt.Metadata);
    }

    public string Headline(Trainer t)
    {
        var c = Config;
        var inv = CultureInfo.InvariantCulture;
        string optim = c.Optimizer == "sgd"
            ? string.Format(inv, "sgd lr {0:G4} momentum {1:G4} wd {2:G4}", c.Lr, c.Momentum, c.WeightDecay)
            : string.Format(inv, "{0} lr {1:G4} wd {2:G4}", c.Optimizer, c.Lr, c.WeightDecay);
        return string.Format(inv,
            "{0}: {1} on {2} ({3} train / {4} test images), {5}, batch {6}, {7}, schedule {8}, seed {9}, {10} threads -> {11}",
            Mode, c.Model, c.Dataset, t.TrainImages, t.TestImages, Epochs(c.Epochs), c.BatchSize, optim, c.Schedule, c.Seed,
            Parallelism.MaxThreads, SaveDir);
    }

    public static string Epochs(int n) => n == 1 ? "1 epoch" : $"{n} epochs";

    private static TrainConfig FromOptions(ParseResult parse, TrainOptions o, string model, string dataset, int numClasses)
    {
        string optim = parse.GetValue(o.Optim)!.ToLowerInvariant();
        return new TrainConfig
        {
            Model = model,
            Dataset = dataset,
            NumClasses = numClasses,
            Epochs = parse.GetValue(o.Epochs),
            BatchSize = parse.GetValue(o.Batch),
            Optimizer = optim,
            Lr = parse.GetValue(o.Lr) ?? (optim == "sgd" ? 0.1 : 1e-3),
            Momentum = parse.GetValue(o.Momentum),
            WeightDecay = parse.GetValue(o.Wd) ?? (optim == "adamw" ? 1e-2 : 1e-4),
            Schedule = parse.GetValue(o.Schedule)!,
            Seed = (ulong)parse.GetValue(o.Seed),
            LabelSmoothing = (float)parse.GetValue(o.LabelSmoothing),
            BnL1 = parse.GetValue(o.BnL1),
            LimitTrain = parse.GetValue(o.LimitTrain),
            LimitTest = parse.GetValue(o.LimitTest),
            DataDir = DataDirOption(parse, o),
            Agp = parse.GetValue(o.Agp),
        };
    }

    private static string? DataDirOption(ParseResult parse, TrainOptions o) =>
        parse.GetValue(o.DataDir) is string dir ? Path.GetFullPath(dir) : null;

    /// <summary>A resumed run keeps its settings; retyping the original command line is fine, changing a value is not.</summary>
    private static void RejectChangedSettings(ParseResult parse, TrainOptions o, TrainConfig saved)
    {
        void Check<T>(Option<T> option, Func<T, bool> same, object? savedValue)
        {
            if (CliOptions.Given(parse, option) && !same(parse.GetValue(option)!))
                throw new CliUsageException(
                    $"{option.Name} {parse.GetValue(option)} differs from the run being resumed ({savedValue}); a resumed run keeps its settings, only --epochs, --data-dir, --save and --threads may be given");
        }
        Check(o.Model, v => ModelZoo.Canonical(v) == saved.Model, saved.Model);
        Check(o.Data, v => DataSets.Info(v).Name == saved.Dataset, saved.Dataset);
        Check(o.Batch, v => v == saved.BatchSize, saved.BatchSize);
        Check(o.Optim, v => v.Equals(saved.Optimizer, StringComparison.OrdinalIgnoreCase), saved.Optimizer);
        Check(o.Lr, v => v == saved.Lr, saved.Lr);
        Check(o.Momentum, v => v == saved.Momentum, saved.Momentum);
        Check(o.Wd, v => v == saved.WeightDecay, saved.WeightDecay);
        Check(o.Schedule, v => v == saved.Schedule, saved.Schedule);
        Check(o.Seed, v => (ulong)v == saved.Seed, saved.Seed);
        Check(o.LabelSmoothing, v => (float)v == saved.LabelSmoothing, saved.LabelSmoothing);
        Check(o.BnL1, v => v == saved.BnL1, saved.BnL1);
        Check(o.LimitTrain, v => v == saved.LimitTrain, saved.LimitTrain);
        Check(o.LimitTest, v => v == saved.LimitTest, saved.LimitTest);
        Check(o.Agp, v => v == saved.Agp, saved.Agp);
    }

    /// <summary>Gradient reductions are split per thread, so the last bits depend on the thread count: resume with the saved one.</summary>
    private static void MatchThreads(CliContext ctx, ParseResult parse, CheckpointData ckpt)
    {
        if (ckpt.Get(CheckpointKeys.Threads) is null) return;
        int saved = CheckpointKeys.ParseInt(ckpt, CheckpointKeys.Threads);
        if (saved == Parallelism.MaxThreads) return;
        if (CliOptions.Given(parse, ctx.Threads))
            ctx.Err.WriteLine($"note: the run used {saved} threads, this one {Parallelism.MaxThreads}: results will differ in the last bits from an uninterrupted run");
        else if (saved >= 1)
            Parallelism.MaxThreads = saved;
    }
}
