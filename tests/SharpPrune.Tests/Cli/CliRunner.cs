using SharpPrune.Cli;
using SharpPrune.Vision.Data;

namespace SharpPrune.Tests.Cli;

/// <summary>Runs the sharpprune command line in-process with captured output.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
    }

    public static Result Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SharpPruneCli.Run(args, stdout, stderr);
        return new Result(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs and asserts success, showing the output when it fails.</summary>
    public static Result Ok(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r;
    }

    /// <summary>The shipped sample, named explicitly: without --data-dir an installed full Fashion-MNIST would win.</summary>
    public static string SampleDir => Datasets.SampleDirectory ?? throw new InvalidOperationException("data/fashion-mnist-sample not found");

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharpprune-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The arguments of a quick lenet5 run on the first sample images, then <paramref name="extra"/>.</summary>
    public static string[] QuickTrain(string save, int epochs, int limitTrain = 256, int limitTest = 128, params string[] extra) =>
    [
        "train", "--model", "lenet5", "--data", "fashion-mnist", "--data-dir", SampleDir, "--epochs", epochs.ToString(),
        "--batch", "32", "--lr", "0.05", "--limit-train", limitTrain.ToString(), "--limit-test", limitTest.ToString(), "--save", save, .. extra,
    ];
}
