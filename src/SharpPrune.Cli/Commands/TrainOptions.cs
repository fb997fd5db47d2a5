using System.CommandLine;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli.Commands;

/// <summary>The options of <c>sharpprune train</c>; the flags of the reference training scripts (cifar.py of Liu et al. 2019's pruning code) under their usual names.</summary>
internal sealed class TrainOptions
{
    public readonly Option<string> Model = CliOptions.String("--model", "Architecture (lenet5, lenet300, alexnet, vgg11/13/16/19, resnet20/32/44/56/110, preresnet110)");
    public readonly Option<string> Data = CliOptions.String("--data", "Dataset: fashion-mnist (ships with the repo), mnist, cifar10, cifar100");
    public readonly Option<string> DataDir = CliOptions.String("--data-dir", "Folder with the dataset files (default for fashion-mnist: the installed set or the shipped sample)");
    public readonly Option<int> Epochs = CliOptions.Int("--epochs", "Number of epochs (with --resume: may extend the run)", 160, 1, 1_000_000);
    public readonly Option<int> Batch = CliOptions.Int("--batch", "Mini-batch size", 128, 1, 1 << 20);
    public readonly Option<string> Optim = CliOptions.Choice("--optim", "Optimizer", "sgd", [.. Optimizers.Names]);
    public readonly Option<double?> Lr = CliOptions.OptionalDouble("--lr", "Learning rate [default: 0.1 for sgd, 0.001 for adam/adamw]", 0, 10, minExclusive: true);
    public readonly Option<double> Momentum = CliOptions.Double("--momentum", "SGD momentum", 0.9, 0, 1, maxExclusive: true);
    public readonly Option<double?> Wd = CliOptions.OptionalDouble("--wd", "Weight decay [default: 1e-4 for sgd and adam, 0.01 for adamw]", 0, 1);
    public readonly Option<string> Schedule = CliOptions.String("--schedule", $"Learning-rate schedule, stepped per epoch: {LrSchedule.Forms}", "step:0.5,0.75");
    public readonly Option<int> Seed = CliOptions.Int("--seed", "Seed of the initial weights, shuffling, augmentation and dropout", 1, 0);
    public readonly Option<string> Save = CliOptions.String("--save", "Output folder [default: runs/<model>-<data>; with --resume: the resumed folder]");
    public readonly Option<string> Resume = CliOptions.String("--resume", "Continue an interrupted run from its folder or its last.safetensors (bit-identical to an uninterrupted run)");
    public readonly Option<string> Load = CliOptions.String("--load", "Start from a checkpoint's weights, e.g. a pruned model to fine-tune (masks are kept)");
    public readonly Option<double> LabelSmoothing = CliOptions.Double("--label-smoothing", "Label smoothing of the cross-entropy loss", 0, 0, 1);
    public readonly Option<string> Agp = CliOptions.String("--agp", $"Gradual pruning while training (Zhu & Gupta 2017): {SharpPrune.Pruning.Schedules.AgpSpec.Form}, e.g. 'final=0.9,end=6'");
    public readonly Option<double> BnL1 = CliOptions.Double("--bn-l1", "Network slimming: L1 penalty on BatchNorm scales (e.g. 1e-4), for --criterion bn-scale in shrink", 0, 0, 1);
    public readonly Option<int?> LimitTrain = CliOptions.OptionalInt("--limit-train", "Use only the first N training images", 1, hidden: true);
    public readonly Option<int?> LimitTest = CliOptions.OptionalInt("--limit-test", "Use only the first N test images", 1, hidden: true);
    public readonly Option<int?> StopAfter = CliOptions.OptionalInt("--stop-after", "Stop after N completed epochs, as if interrupted", 1, hidden: true);

    public TrainOptions()
    {
        Schedule.Validators.Add(r =>
        {
            try { LrSchedule.Parse(r.GetValueOrDefault<string>() ?? "", 100); }
            catch (ArgumentException e) { r.AddError("--schedule: " + e.Message); }
        });
        Agp.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is not { } text) return;
            try { SharpPrune.Pruning.Schedules.AgpSpec.Parse(text); }
            catch (ArgumentException e) { r.AddError("--agp: " + e.Message); }
        });
    }

    public void AddTo(Command cmd)
    {
        foreach (Option opt in new Option[] { Model, Data, DataDir, Epochs, Batch, Optim, Lr, Momentum, Wd, Schedule, Seed, Save, Resume, Load, LabelSmoothing, BnL1, Agp, LimitTrain, LimitTest, StopAfter })
            cmd.Options.Add(opt);
    }
}
