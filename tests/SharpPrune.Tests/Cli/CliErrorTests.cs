using SharpPrune.Cli;

namespace SharpPrune.Tests.Cli;

public class CliErrorTests
{
    private static void AssertOneLineError(CliRunner.Result r, int exitCode, params string[] fragments)
    {
        Assert.True(r.ExitCode == exitCode, r.ToString());
        foreach (var f in fragments) Assert.Contains(f, r.Err);
        Assert.DoesNotContain("   at ", r.Err); // no stack trace without --verbose
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void UnknownModelListsTheValidOnes()
    {
        var r = CliRunner.Run("summary", "--model", "resnet9000");
        AssertOneLineError(r, SharpPruneCli.ExitUsage, "unknown model 'resnet9000'", "lenet5", "vgg16");
        Assert.Single(r.Err.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("--epochs", "0", "--epochs must be between 1 and 1000000, got 0")]
    [InlineData("--lr", "-0.1", "--lr must be in (0, 10], got -0.1")]
    [InlineData("--momentum", "1", "--momentum must be in [0, 1), got 1")]
    [InlineData("--optim", "rmsprop", "--optim must be one of sgd, adam, adamw, got 'rmsprop'")]
    [InlineData("--schedule", "steps:0.5", "invalid learning-rate schedule 'steps:0.5'")]
    [InlineData("--batch", "many", "--batch: 'many' is not an integer")]
    public void Bad_option_values_name_the_option_and_the_valid_range(string option, string value, string expected)
    {
        var r = CliRunner.Run("train", "--model", "lenet5", "--data", "fashion-mnist", option, value);
        AssertOneLineError(r, SharpPruneCli.ExitUsage, expected, "sharpprune train --help");
    }

    [Fact]
    public void UnknownDatasetAndMismatchedModelAreUsageErrors()
    {
        AssertOneLineError(CliRunner.Run("train", "--model", "lenet5", "--data", "imagenet"), SharpPruneCli.ExitUsage,
            "unknown dataset 'imagenet'", "cifar10");
        AssertOneLineError(CliRunner.Run("train", "--model", "lenet5", "--data", "cifar10"), SharpPruneCli.ExitUsage,
            "lenet5 takes 1x28x28 images but cifar10 has 3x32x32");
        AssertOneLineError(CliRunner.Run("train", "--data", "fashion-mnist"), SharpPruneCli.ExitUsage, "--model is required");
    }

    [Fact]
    public void MissingAndCorruptCheckpointsFailWithTheFileNamed()
    {
        string dir = CliRunner.TempDir();
        string missing = Path.Combine(dir, "nope.safetensors");
        AssertOneLineError(CliRunner.Run("eval", "--load", missing), SharpPruneCli.ExitFailure, $"checkpoint '{missing}' does not exist");

        string corrupt = Path.Combine(dir, "corrupt.safetensors");
        File.WriteAllBytes(corrupt, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        AssertOneLineError(CliRunner.Run("report", "--load", corrupt), SharpPruneCli.ExitFailure, $"'{corrupt}' is not a valid checkpoint");

        AssertOneLineError(CliRunner.Run("train", "--resume", dir), SharpPruneCli.ExitFailure, "last.safetensors' does not exist");
    }

    [Fact]
    public void MissingDataDirectoryIsNamed()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "no-such-dir");
        var r = CliRunner.Run("train", "--model", "lenet5", "--data", "fashion-mnist", "--data-dir", dir, "--epochs", "1");
        AssertOneLineError(r, SharpPruneCli.ExitFailure, dir, "does not exist");
    }

    [Fact]
    public void VerboseAddsTheStackTrace()
    {
        var r = CliRunner.Run("eval", "--load", "/nonexistent/x.safetensors", "--verbose");
        Assert.Equal(SharpPruneCli.ExitFailure, r.ExitCode);
        Assert.Contains("   at ", r.Err);
    }

    [Fact]
    public void UnknownOptionsAndCommandsAreUsageErrors()
    {
        AssertOneLineError(CliRunner.Run("train", "--epoch", "3"), SharpPruneCli.ExitUsage, "--epoch");
        AssertOneLineError(CliRunner.Run("fly"), SharpPruneCli.ExitUsage, "fly");
        AssertOneLineError(CliRunner.Run(), SharpPruneCli.ExitUsage, "Required command was not provided");
    }

    [Fact]
    public void PruneRejectsBadAmountsAndLayerPatterns()
    {
        string dir = CliRunner.TempDir();
        CliRunner.Ok("train", "--model", "lenet5", "--data", "fashion-mnist", "--data-dir", CliRunner.SampleDir, "--epochs", "1",
            "--limit-train", "32", "--limit-test", "32", "--save", dir);
        string ckpt = Path.Combine(dir, "last.safetensors"), outFile = Path.Combine(dir, "p.safetensors");
        AssertOneLineError(CliRunner.Run("prune", "--load", ckpt, "--method", "l1-unstructured", "--amount", "1.5", "--save", outFile),
            SharpPruneCli.ExitUsage, "--amount must be a fraction in [0, 1]", "got '1.5'");
        AssertOneLineError(CliRunner.Run("prune", "--load", ckpt, "--method", "l1-unstructured", "--amount", "0.5", "--layers", "features.*", "--save", outFile),
            SharpPruneCli.ExitUsage, "matches none of the Conv2d/Linear layers: conv1, conv2, fc1, fc2, fc3");
        AssertOneLineError(CliRunner.Run("prune", "--load", ckpt, "--method", "l1-unstructured", "--amount", "9999", "--save", outFile),
            SharpPruneCli.ExitUsage, "cannot prune conv1.weight", "amount=9999");
        AssertOneLineError(CliRunner.Run("prune", "--load", ckpt, "--method", "magic", "--amount", "0.5", "--save", outFile),
            SharpPruneCli.ExitUsage, "--method must be one of");
        Assert.False(File.Exists(outFile));
        // A resumed run keeps its settings.
        AssertOneLineError(CliRunner.Run("train", "--resume", dir, "--lr", "0.5"), SharpPruneCli.ExitUsage,
            "--lr 0.5 differs from the run being resumed (0.1)");
    }
}
