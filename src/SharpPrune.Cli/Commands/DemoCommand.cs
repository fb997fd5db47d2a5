using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Vision.Data;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli.Commands;

/// <summary>
/// <c>sharpprune demo</c>: the whole pipeline on the Fashion-MNIST sample shipped in the repository, no download:
/// train LeNet-5, evaluate, prune 80% of its weights by global magnitude, report, retrain with the masks held,
/// report again. Each step is an entry of <see cref="Steps"/>, so steps can be added or reordered in one place.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CliContext ctx)
    {
        var epochs = CliOptions.Int("--epochs", "Training epochs for the dense model", 2, 1, 1000);
        var retrainEpochs = CliOptions.Int("--retrain-epochs", "Retraining epochs for the pruned model", 1, 1, 1000);
        var amount = CliOptions.Double("--amount", "Share of the weights to prune (global L1)", 0.8, 0, 1);
        var save = CliOptions.String("--save", "Output folder", Path.Combine("runs", "demo"));
        var limitTrain = CliOptions.OptionalInt("--limit-train", "Use only the first N training images", 1, hidden: true);
        var limitTest = CliOptions.OptionalInt("--limit-test", "Use only the first N test images", 1, hidden: true);
        var cmd = new Command("demo", "Train, prune and retrain LeNet-5 on the Fashion-MNIST sample shipped with SharpPrune")
            { epochs, retrainEpochs, amount, save, limitTrain, limitTest };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            var demo = new DemoRun(ctx, parse.GetValue(save)!, parse.GetValue(epochs), parse.GetValue(retrainEpochs),
                parse.GetValue(amount), parse.GetValue(limitTrain), parse.GetValue(limitTest));
            return demo.Run();
        });
        return cmd;
    }

    private sealed class DemoRun(CliContext ctx, string saveDir, int epochs, int retrainEpochs, double amount, int? limitTrain, int? limitTest)
    {
        private const string Model = "lenet5", Dataset = "fashion-mnist";
        private IImageDataset _train = null!, _test = null!;
        private string _sampleDir = null!;
        private Module _model = null!;
        private double _denseAcc, _prunedAcc, _retrainedAcc;

        private (string Title, Action Run)[] Steps() =>
        [
            ($"train LeNet-5 for {epochs} epoch(s) on the shipped Fashion-MNIST sample", Train),
            ("evaluate the dense model", () => _denseAcc = Evaluate("dense")),
            ($"prune {amount * 100:0.##}% of the conv/linear weights by global magnitude (global L1)", PruneGlobal),
            ("report the pruned model", () => { Report(); _prunedAcc = Evaluate("pruned, before retraining"); }),
            ($"retrain the pruned model for {retrainEpochs} epoch(s), pruned weights held at zero", Retrain),
            ("report the retrained model", () => { Report(); _retrainedAcc = Evaluate("pruned and retrained"); }),
        ];

        public int Run()
        {
            var clock = Stopwatch.StartNew();
            _sampleDir = Datasets.SampleDirectory
                ?? throw new CliException($"the shipped sample data/{Datasets.SampleFolder} was not found; run the demo from the repository (or set {Datasets.SampleDirectoryVariable})");
            var (train, test) = Datasets.Load(Dataset, _sampleDir);
            (_train, _test) = (DatasetLimit.Take(train, limitTrain), DatasetLimit.Take(test, limitTest));
            var steps = Steps();
            for (int i = 0; i < steps.Length; i++)
            {
                ctx.Out.WriteLine();
                ctx.Out.WriteLine($"== step {i + 1}/{steps.Length}: {steps[i].Title}");
                steps[i].Run();
            }
            ctx.Out.WriteLine();
            ctx.Out.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "demo done in {0:F0}s: test accuracy dense {1:F2}% -> pruned {2:F2}% -> retrained {3:F2}% ({4:0.##}% of the weights pruned)",
                clock.Elapsed.TotalSeconds, _denseAcc, _prunedAcc, _retrainedAcc, amount * 100));
            ctx.Out.WriteLine($"files in {saveDir}; try: sharpprune report --load {Path.Combine(saveDir, "retrain", CheckpointKeys.LastFile)}");
            return 0;
        }

        private TrainConfig Config(int n, string? initFrom) => new()
        {
            Model = Model, Dataset = Dataset, NumClasses = 10, Epochs = n, BatchSize = 64, Optimizer = "sgd",
            Lr = 0.05, Momentum = 0.9, WeightDecay = 5e-4, Schedule = "cosine", Seed = 1, InitFrom = initFrom,
            DataDir = _sampleDir, // recorded, so eval/train --load of these checkpoints use the sample's split too
        };

        private void Train()
        {
            _model = ModelLoader.Create(Model, 10, seed: 1);
            var cfg = Config(epochs, null);
            var progress = new TrainingDisplay.Relay();
            var trainer = new Trainer(_model, cfg, _train, _test, Path.Combine(saveDir, "dense")) { Progress = progress };
            ctx.Out.WriteLine($"{trainer.TrainImages} training / {trainer.TestImages} test images, sgd lr {cfg.Lr}, cosine schedule");
            TrainingDisplay.Run(ctx, progress, trainer.Run);
        }

        private double Evaluate(string what)
        {
            var r = Evaluator.Evaluate(_model, new DataLoader(_test, 256, shuffle: false, Transforms.Test(Dataset), seed: 0));
            ctx.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "test accuracy ({0}): {1:F2}% ({2}/{3}), loss {4:F4}",
                what, r.Accuracy, r.Correct, r.Count, r.Loss));
            return r.Accuracy;
        }

        private void PruneGlobal()
        {
            var targets = _model.NamedModules().Where(m => m.Module is Conv2d or Linear).Select(m => (m.Module, "weight")).ToList();
            Prune.GlobalUnstructured(targets, GlobalPruningMethod.L1Unstructured, amount);
            string path = Path.Combine(saveDir, "pruned.safetensors");
            Checkpoint.Save(path, _model, null, null, new Dictionary<string, string>
            {
                [CheckpointKeys.Model] = Model, [CheckpointKeys.Dataset] = Dataset, [CheckpointKeys.NumClasses] = "10",
                [CheckpointKeys.Config] = Config(epochs, null).ToJson(),
            });
            ctx.Out.WriteLine($"saved {path} (PyTorch keys: conv1.weight_orig, conv1.weight_mask, ...)");
        }

        private void Report() => ctx.Out.Write(PruningReport.FromModule(_model).FormatTable());

        private void Retrain()
        {
            var cfg = Config(retrainEpochs, Path.Combine(saveDir, "pruned.safetensors")) with { Lr = 0.01 };
            var progress = new TrainingDisplay.Relay();
            var trainer = new Trainer(_model, cfg, _train, _test, Path.Combine(saveDir, "retrain")) { Progress = progress };
            TrainingDisplay.Run(ctx, progress, trainer.Run);
        }
    }
}
