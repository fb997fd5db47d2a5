using SharpPrune.IO;
using SharpPrune.Pruning;
using SharpPrune.Tests.Training;
using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Cli;

/// <summary><c>train --agp</c>: gradual pruning during training, end to end through the command line.</summary>
public class GradualPruningCliTests
{
    private static double WeightSparsity(string checkpoint)
    {
        var ckpt = Checkpoint.Load(checkpoint);
        var masks = ckpt.Model.Where(kv => kv.Key.EndsWith(".weight_mask")).Select(kv => kv.Value).ToList();
        Assert.Equal(5, masks.Count); // lenet5: conv1, conv2, fc1, fc2, fc3
        return 1 - (double)masks.Sum(m => m.CountNonZero()) / masks.Sum(m => m.Numel);
    }

    [Fact]
    public void AgpReachesTheFinalSparsityAndResumesBitForBit()
    {
        // 128 images / batch 32 = 4 steps per epoch; pruning over epochs 0..2 every 2 steps, then one epoch at s_f.
        string[] agp = ["--agp", "final=0.75,end=2,every=2"];
        string full = CliRunner.TempDir(), split = CliRunner.TempDir();
        var r = CliRunner.Ok(CliRunner.QuickTrain(full, 3, 128, 64, agp));
        Assert.Contains("gradual pruning: 75.00% of 5 layers' weights pruned (agp 0 -> 0.75 over steps 0..8, every 2)", r.Out);
        Assert.Equal(0.75, WeightSparsity(Path.Combine(full, CheckpointKeys.LastFile)), 3);
        // After epoch 1 (steps 0..3; the last update was step 2): s = 0.75 (1 - (1 - 2/8)^3) = 0.43359375.
        CliRunner.Ok(CliRunner.QuickTrain(split, 3, 128, 64, [.. agp, "--stop-after", "1"]));
        Assert.Equal(0.43359375, WeightSparsity(Path.Combine(split, CheckpointKeys.LastFile)), 3);

        CliRunner.Ok("train", "--resume", split);
        TrainingData.AssertBitIdentical(Checkpoint.Load(Path.Combine(full, CheckpointKeys.LastFile)).Model,
                                        Checkpoint.Load(Path.Combine(split, CheckpointKeys.LastFile)).Model);
        var e = CliRunner.Run("train", "--resume", split, "--agp", "final=0.5");
        Assert.Equal(2, e.ExitCode);
        Assert.Contains("--agp final=0.5 differs from the run being resumed (final=0.75,end=2,every=2)", e.Err);
    }

    [Theory]
    [InlineData("end=3", "agp needs final=S")]
    [InlineData("final=1.5", "final sparsity must be in [0, 1], got 1.5")]
    [InlineData("final=0.5,every=0", "agp every must be a whole number of steps >= 1, got '0'")]
    [InlineData("final=0.5,bogus=1", "unknown agp key 'bogus'")]
    [InlineData("final=0.5,start=3,end=1", "agp end (epoch 1) comes before start (epoch 3)")]
    public void Bad_agp_specs_are_usage_errors(string spec, string message)
    {
        var r = CliRunner.Run(CliRunner.QuickTrain(CliRunner.TempDir(), 2, 64, 32, "--agp", spec));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Err);
    }
}
