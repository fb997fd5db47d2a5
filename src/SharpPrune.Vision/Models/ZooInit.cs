using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>The weight initialisations the reference CIFAR codes apply after building a model.</summary>
internal static class ZooInit
{
    /// <summary>
    /// Convs: N(0, √(2/n)) with n = kH·kW·out_channels (kaiming-normal, fan_out, ReLU), bias 0;
    /// BatchNorm2d: weight <paramref name="bnWeight"/>, bias 0. Modules are visited in pre-order like PyTorch's modules().
    /// </summary>
    public static void ConvFanOutAndBatchNorm(Module model, float bnWeight, Generator? generator)
    {
        foreach (var m in model.Modules())
        {
            if (m is Conv2d conv)
            {
                Init.KaimingNormal_(conv.Weight, fanIn: false, nonlinearity: "relu", g: generator);
                conv.Bias?.Zero_();
            }
            else if (m is BatchNorm2d bn && bn.Affine)
            {
                bn.Weight!.Fill_(bnWeight);
                bn.Bias!.Zero_();
            }
        }
    }
}
