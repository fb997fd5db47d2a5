using System.CommandLine;
using System.Globalization;
using SharpPrune.IO;
using SharpPrune.Vision.Data;
using SharpPrune.Vision.Training;
using YamlDotNet.RepresentationModel;

namespace SharpPrune.Cli.Recipes;

/// <summary>What a step sees when it runs: its own folder and the checkpoint the previous steps left.</summary>
internal sealed record StepEnv(string Dir, string? Input, RecipeRunner Runner)
{
    public string RequireInput(string id) =>
        Input ?? throw new CliUsageException($"recipe step {id} needs a checkpoint from an earlier step (start the recipe with a train step)");
}

/// <summary>
/// One unit of a run: a command, or a small action of the runner itself (rewinding weights, saving an init).
/// <see cref="Run"/> returns the checkpoint it produced (null: the current one stays current).
/// <see cref="CheckArgs"/> are the command line it will run, with placeholder paths, parsed before anything runs
/// so a typo in step 7 fails before step 1 trains.
/// </summary>
internal sealed record PlannedStep(string Id, string Title, Func<StepEnv, string?> Run, string[]? CheckArgs = null);

/// <summary>How a command step takes its input and gives its output.</summary>
internal enum StepIo
{
    /// <summary>train from scratch: --save DIR, result DIR/last.safetensors, resumable.</summary>
    TrainFresh,
    /// <summary>train from the current checkpoint: --load CKPT --save DIR, result DIR/last.safetensors, resumable.</summary>
    TrainFrom,
    /// <summary>--load CKPT --save DIR/FILE, result that file (prune, and the other model transforms).</summary>
    Transform,
    /// <summary>--load CKPT only (eval, report); the current checkpoint stays.</summary>
    Inspect,
    /// <summary>--load CKPT --out DIR/FILE: a file for other tools (export); the current checkpoint stays.</summary>
    Export,
}

/// <summary>Everything steps are expanded against: the recipe, the output folder, the command line's options.</summary>
internal sealed class PlanContext(Recipe recipe, string outDir, RootCommand root, string? dataDirOverride, int? limitTrain, int? limitTest)
{
    public Recipe Recipe { get; } = recipe;
    public string OutDir { get; } = outDir;
    public int? LimitTrain { get; } = limitTrain;
    public int? LimitTest { get; } = limitTest;
    private static readonly string[] RunnerOwned = ["load", "save", "resume", "out"];

    /// <summary>The data folder: the run's --data-dir, else the recipe's; "sample" is the sample shipped in data/.</summary>
    public string? DataDir { get; } = ResolveDataDir(dataDirOverride ?? recipe.DataDir);

    private static string? ResolveDataDir(string? dir) => dir switch
    {
        null => null,
        "sample" => Datasets.SampleDirectory ?? throw new CliException($"data_dir: sample needs the repository's data/{Datasets.SampleFolder} (or {Datasets.SampleDirectoryVariable})"),
        _ => Path.GetFullPath(dir),
    };

    public string StepDir(string id) => Path.Combine(OutDir, id);

    /// <summary>Training options for a train-like step: the recipe's train defaults overridden by <paramref name="own"/>.</summary>
    public Dictionary<string, YamlNode> TrainOptions(IReadOnlyDictionary<string, YamlNode> own)
    {
        var d = new Dictionary<string, YamlNode>(Recipe.TrainDefaults);
        foreach (var (k, v) in own) d[k] = v;
        return d;
    }

    /// <summary>A step that runs <c>sharpprune <paramref name="command"/></c> with <paramref name="options"/> as its options.</summary>
    public PlannedStep Command(string id, string title, string command, IReadOnlyDictionary<string, YamlNode> options, StepIo io,
        string where, string outputFile = "")
    {
        var args = OptionArgs(command, options, where);
        string dir = StepDir(id);
        string[] Build(string? input)
        {
            var a = new List<string> { command };
            a.AddRange(args);
            switch (io)
            {
                case StepIo.TrainFresh: a.AddRange(["--save", dir]); break;
                case StepIo.TrainFrom: a.AddRange(["--load", input!, "--save", dir]); break;
                case StepIo.Transform: a.AddRange(["--load", input!, "--save", Path.Combine(dir, outputFile)]); break;
                case StepIo.Inspect: a.AddRange(["--load", input!]); break;
                case StepIo.Export: a.AddRange(["--load", input!, "--out", Path.Combine(dir, outputFile)]); break;
            }
            return a.ToArray();
        }
        return new PlannedStep(id, title, env =>
        {
            string? input = io == StepIo.TrainFresh ? null : env.RequireInput(id);
            string[] a = Build(input);
            if (io is StepIo.TrainFresh or StepIo.TrainFrom && File.Exists(Path.Combine(dir, CheckpointKeys.LastFile)))
                a = ResumeArgs(dir, a); // interrupted during this step: continue its training
            env.Runner.RunCommand(a, dir);
            return io switch
            {
                StepIo.TrainFresh or StepIo.TrainFrom => Path.Combine(dir, CheckpointKeys.LastFile),
                StepIo.Transform => Path.Combine(dir, outputFile),
                _ => null,
            };
        }, Build("checkpoint.safetensors"));
    }

    /// <summary><c>train --resume DIR</c>, keeping a simulated stop (--stop-after) of the original command.</summary>
    private static string[] ResumeArgs(string dir, string[] original)
    {
        var a = new List<string> { "train", "--resume", dir };
        int i = Array.IndexOf(original, "--stop-after");
        if (i >= 0) a.AddRange(["--stop-after", original[i + 1]]);
        return a.ToArray();
    }

    /// <summary>
    /// The options as command-line arguments, checked against the command's own options: the recipe's model,
    /// data, data_dir and seed come first where the command takes them and the step does not set them.
    /// </summary>
    private List<string> OptionArgs(string command, IReadOnlyDictionary<string, YamlNode> options, string where)
    {
        var cmd = root.Subcommands.Single(c => c.Name == command);
        var merged = new List<(string Key, string Text)>();
        foreach (var (k, v) in options)
        {
            if (RunnerOwned.Contains(k))
                throw new CliUsageException($"recipe {where}: '{k}' is set by the recipe runner (each step reads the previous step's checkpoint and writes into its own folder)");
            merged.Add((k, Recipe.ToOptionText(v, $"{where}: {k}")));
        }
        void Global(string key, string? value)
        {
            if (value is not null && !options.ContainsKey(key) && Find(cmd, key) is not null) merged.Insert(0, (key, value));
        }
        Global("data_dir", DataDir);
        Global("data", Recipe.Data);
        if (command == "train") // other commands read the model from the checkpoint; their --seed is a pruning seed
        {
            Global("seed", Recipe.Seed);
            Global("model", Recipe.Model);
        }
        if (command == "train")
        {
            if (LimitTrain is int lt && !options.ContainsKey("limit_train")) merged.Add(("limit_train", lt.ToString(CultureInfo.InvariantCulture)));
            if (LimitTest is int ls && !options.ContainsKey("limit_test")) merged.Add(("limit_test", ls.ToString(CultureInfo.InvariantCulture)));
        }
        else if (command == "eval" && LimitTest is int ls && !options.ContainsKey("limit_test"))
            merged.Add(("limit_test", ls.ToString(CultureInfo.InvariantCulture)));

        var args = new List<string>();
        foreach (var (key, text) in merged)
        {
            var opt = Find(cmd, key) ?? throw new CliUsageException(
                $"recipe {where}: '{key}' is not an option of 'sharpprune {command}'; valid: " +
                string.Join(", ", cmd.Options.Where(o => !o.Hidden && !RunnerOwned.Contains(o.Name.TrimStart('-'))).Select(o => o.Name.TrimStart('-').Replace('-', '_'))));
            if (opt.ValueType == typeof(bool))
            {
                if (text is "true" or "True" or "yes") args.Add(opt.Name);
                else if (text is not ("false" or "False" or "no"))
                    throw new CliUsageException($"recipe {where}: '{key}' is a switch: true or false, got '{text}'");
            }
            else args.AddRange([opt.Name, text]);
        }
        return args;
    }

    private static Option? Find(Command cmd, string key)
    {
        string name = "--" + key.Replace('_', '-');
        return cmd.Options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));
    }
}
