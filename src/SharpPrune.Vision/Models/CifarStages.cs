using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>
/// The three stages of the CIFAR ResNets (He et al. 2016 §4.2) and PreResNets: layer1..3 of n blocks each, widths
/// base, 2·base, 4·base; the first block of stages 2 and 3 has stride 2.
/// </summary>
internal static class CifarStages
{
    /// <summary>A block for (input channels, stage width, stride) and the channels it outputs.</summary>
    public delegate (Module Block, int OutChannels) BlockFactory(int inplanes, int planes, int stride);

    /// <summary>Registers layer1..3 on <paramref name="model"/>; returns the channels the last stage outputs.</summary>
    public static int Register(Module model, int blocksPerStage, int inplanes, BlockFactory block)
    {
        int baseWidth = inplanes;
        for (int s = 0; s < 3; s++)
        {
            var stage = new Sequential();
            for (int b = 0; b < blocksPerStage; b++)
            {
                var (module, outChannels) = block(inplanes, baseWidth << s, s > 0 && b == 0 ? 2 : 1);
                stage.Add(module);
                inplanes = outChannels;
            }
            model.RegisterModule($"layer{s + 1}", stage);
        }
        return inplanes;
    }
}
