using SharpPrune.Optim;
using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Training;

public class LrScheduleTests
{
    [Fact]
    public void StepFractionsBecomeTheSeedRecipeMilestones()
    {
        var s = LrSchedule.Parse("step:0.5,0.75", 160);
        Assert.Equal("step", s.Kind);
        Assert.Equal([80, 120], s.Milestones);
        Assert.Equal(0.1, s.Gamma);
    }

    [Fact]
    public void StepMilestonesThatCoincideOrRoundToZeroDecayOnce()
    {
        Assert.Equal([1], LrSchedule.Parse("step:0.5,0.75", 2).Milestones);
        Assert.Empty(LrSchedule.Parse("step:0.5,0.75", 1).Milestones);
    }

    [Fact]
    public void MultistepAndCosineAndNone()
    {
        Assert.Equal([80, 120], LrSchedule.Parse("multistep:80,120", 160).Milestones);
        Assert.Equal("cosine", LrSchedule.Parse("COSINE", 10).Kind);
        var opt = new SGD([Tensor.Zeros(2).RequiresGrad_()], 0.1);
        Assert.Null(LrSchedule.Parse("none", 10).Create(opt));
        Assert.IsType<CosineAnnealingLR>(LrSchedule.Parse("cosine", 10).Create(opt));
    }

    [Fact]
    public void StepScheduleAppliesTheDecaysAtTheMilestones()
    {
        var opt = new SGD([Tensor.Zeros(2).RequiresGrad_()], 0.1);
        var sched = LrSchedule.Parse("step:0.5,0.75", 8).Create(opt)!;
        var lrs = new List<double>();
        for (int e = 0; e < 8; e++) { lrs.Add(opt.LearningRate); sched.Step(); }
        Assert.Equal([0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001], lrs.Select(x => Math.Round(x, 10)));
    }

    [Theory]
    [InlineData("steps:0.5")]
    [InlineData("step:1.5")]
    [InlineData("step:abc")]
    [InlineData("multistep:120,80")]
    [InlineData("cosine:3")]
    public void BadSpecsNameTheSpecAndTheValidForms(string spec)
    {
        var e = Assert.Throws<ArgumentException>(() => LrSchedule.Parse(spec, 10));
        Assert.Contains($"'{spec}'", e.Message);
        Assert.Contains("multistep:", e.Message);
    }
}
